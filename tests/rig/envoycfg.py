"""Envoy bootstrap configs for the rig (JSON, which Envoy reads like YAML)."""
import json


def cluster(name: str, port: int) -> dict:
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}],
        },
    }


def wasm_filter(wasm_path: str, plugin_config: dict, env: dict = None) -> dict:
    vm_config = {
        "vm_id": "oidc-gate",
        "runtime": "envoy.wasm.runtime.v8",
        "code": {"local": {"filename": str(wasm_path)}},
    }
    if env:
        vm_config["environment_variables"] = {"key_values": env}
    return {
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "oidc-gate",
                "root_id": "oidc-gate",
                "failure_policy": "FAIL_RELOAD",
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": json.dumps(plugin_config)},
                "vm_config": vm_config,
            },
        },
    }


def listener(name: str, port: int, upstream_cluster: str, filters: list, normalize: bool = True) -> dict:
    return {
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [{
            "filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": name,
                    "normalize_path": normalize,
                    "merge_slashes": normalize,
                    "path_with_escaped_slashes_action": "UNESCAPE_AND_REDIRECT" if normalize else "KEEP_UNCHANGED",
                    "codec_type": "AUTO",
                    "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": upstream_cluster}}]}]},
                    "http_filters": filters + [{"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
                },
            }],
        }],
    }


def bootstrap(admin_port: int, listeners: list, clusters: list) -> dict:
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }
