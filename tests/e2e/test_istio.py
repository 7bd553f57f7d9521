"""The Istio sample, as istiod hands it to the gateway's Envoy: envoy/istio/wasmplugin.yaml's
WasmPlugin rendered the way istiod's WasmPlugin conversion does (pilot: the filter named
<namespace>.<name>, root_id from pluginName, pluginConfig as JSON in a StringValue, the V8
runtime, vmConfig.env INLINE values as key_values and HOST names as host_env_keys, plus the
resource-version variable istiod adds; the agent has already fetched the image to a local
file), placed where the AUTHN phase puts it: before the RBAC filter of the sample's
AuthorizationPolicy. A real login and a real bearer request go through it."""
import base64
import json

from rig import envoycfg
from rig.browser import Browser
from rig.harness import Envoy
from rig.procs import ROOT, WASM
from rig.samples import load_docs

SAMPLE = ROOT / "envoy" / "istio" / "wasmplugin.yaml"
IDP_CLUSTER = "outbound|443||idp.example.com"


def docs():
    return load_docs(SAMPLE)


def rendered_wasm_filter(plugin: dict, issuer: str) -> dict:
    """The HTTP filter istiod makes of a WasmPlugin (extensions.go: PluginConfig name,
    root_id, configuration, vm_config with runtime, code, environment_variables)."""
    spec, meta = plugin["spec"], plugin["metadata"]
    config = json.loads(json.dumps(spec["pluginConfig"]).replace("https://idp.example.com", issuer))
    env = {"ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION": "1"}
    host_env = []
    for e in spec.get("vmConfig", {}).get("env", []):
        if e.get("valueFrom", "INLINE") == "INLINE":
            env[e["name"]] = e.get("value", "")
        else:
            host_env.append(e["name"])
    return {
        "name": f"{meta['namespace']}.{meta['name']}",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": f"{meta['namespace']}.{meta['name']}",
                "root_id": spec.get("pluginName", ""),
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                  "value": json.dumps(config, separators=(",", ":"))},
                "vm_config": {
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": {"local": {"filename": str(WASM)}},
                    "environment_variables": {"key_values": env, "host_env_keys": host_env},
                },
            },
        },
    }


def rbac_of_sample_policy(policy: dict) -> dict:
    """The sample's DENY AuthorizationPolicy as an Envoy RBAC filter: deny when the path is
    not a bypassed one and the identity header is absent."""
    rule = policy["spec"]["rules"][0]
    not_paths = rule["to"][0]["operation"]["notPaths"]
    header = rule["when"][0]["key"].split("[", 1)[1].rstrip("]")
    path_ids = [{"url_path": {"path": {"prefix": p.rstrip("*")}}} for p in not_paths]
    return {
        "name": "envoy.filters.http.rbac",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": {"action": "DENY", "policies": {"ns[istio-system]-policy[require-oidc-gate-identity]-rule[0]": {
                "permissions": [{"not_rule": {"or_rules": {"rules": path_ids}}}],
                "principals": [{"not_id": {"header": {"name": header, "present_match": True}}}],
            }}},
        },
    }


class IstioGateway(Envoy):
    """Envoy with the rendered filters, the IdP under Istio's cluster name, and the
    gateway pod's environment (the Secret's values, read with valueFrom: HOST)."""

    def __init__(self, log_dir, filters, idp_port, echo_port, env):
        super().__init__(log_dir, {}, idp_port, echo_port)
        listener = envoycfg.listener("gateway", self.port, "echo", [])
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        hcm["common_http_protocol_options"] = {"headers_with_underscores_action": "REJECT_REQUEST"}
        hcm["http_filters"] = filters + hcm["http_filters"]
        clusters = [envoycfg.cluster(IDP_CLUSTER, idp_port), envoycfg.cluster("echo", echo_port)]
        self.config_path.write_text(json.dumps(envoycfg.bootstrap(self.admin_port, [listener], clusters), indent=1))
        self.process_env = env

    def start(self, wait=True):
        from rig.procs import Proc, envoy_command
        cmd = envoy_command() + ["-c", self.config_path, "--concurrency", "1", "--disable-hot-restart", "-l", "info"]
        self.proc = Proc(self.name, cmd, self.log_dir, env=self.process_env)
        if wait:
            self.wait_ready()
        return self


def test_the_wasmplugin_as_istiod_renders_it_runs_a_login_and_a_bearer_request(rig):
    all_docs = docs()
    [plugin] = [d for d in all_docs if d.get("kind") == "WasmPlugin"]
    [policy] = [d for d in all_docs if d.get("kind") == "AuthorizationPolicy"]
    assert plugin["spec"]["phase"] == "AUTHN" and plugin["spec"]["failStrategy"] == "FAIL_CLOSE"
    client_id = plugin["spec"]["pluginConfig"]["client_id"]
    idp = rig.idp()
    filters = [rendered_wasm_filter(plugin, idp.issuer), rbac_of_sample_policy(policy)]
    # The test IdP knows the client as "web": the registration is the only thing changed.
    wasm_cfg = filters[0]["typed_config"]["config"]["configuration"]
    wasm_cfg["value"] = wasm_cfg["value"].replace(f'"{client_id}"', '"web"')
    env = {"OIDC_CLIENT_SECRET": "test-secret", "SESSION_KEY": base64.b64encode(bytes(range(32))).decode()}
    gw = IstioGateway(rig.log_dir, filters, idp.port, rig.echo_port, env)
    rig.started.append(gw)
    idp.extra += ["--redirect-uri", f"{gw.url}/oauth2/callback"]
    idp.start()
    gw.start()
    # A person signs in through the gateway and the app sees who they are.
    b = Browser()
    chain = b.follow(f"{gw.url}/jupyter/?ns=alice", {"kubeflow-userid": "admin@example.com"})
    assert chain[-1].status == 200, [(r.status, r.url, r.body[:200]) for r in chain]
    h = chain[-1].json()["headers"]
    assert h["kubeflow-userid"] == "alice@example.com" and h["kubeflow-groups"] == "admins,dev"
    # A machine client with a token for the sample's audience that names its user.
    import time
    now = int(time.time())
    token = idp.sign({"iss": idp.issuer, "aud": "api://kubeflow", "sub": "pipeline-runner", "exp": now + 300,
                      "iat": now, "email": "runner@example.com", "email_verified": True})
    r = gw.get("/pipeline/apis/v2beta1/runs", {"authorization": f"Bearer {token}"})
    assert r.status == 200 and r.json()["headers"]["kubeflow-userid"] == "runner@example.com", r
    # Without credentials: 401 for the API, and the bypassed path passes both filters.
    assert gw.get("/pipeline/apis/v2beta1/runs", {"accept": "application/json"}).status == 401
    assert gw.get("/healthz/ready").status == 200
    # The RBAC filter runs after it: a valid token that gives no user id passes oidc-gate
    # but not the AuthorizationPolicy.
    anonymous_machine = idp.client_credentials(resource="api://kubeflow")
    r = gw.get("/pipeline/apis/v2beta1/runs", {"authorization": f"Bearer {anonymous_machine}"})
    assert r.status == 403 and b"RBAC" in r.body, r
    log = gw.proc.log()
    assert "configured for issuers" in log and "config error" not in log
