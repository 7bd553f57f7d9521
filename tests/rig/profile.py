"""Running a profile from envoy/examples/<name>/ in a real Envoy, as written, with only what
points at the outside world moved into the rig:

  * the listener and admin ports become free ports on 127.0.0.1;
  * the filter's module path becomes the built one;
  * each cluster named in `clusters` becomes a plain-HTTP STATIC cluster on 127.0.0.1 (the
    test IdP, the GitHub-shaped server, the echo upstream standing in for the app): its
    transport socket and HTTP/2 upstream options go, the rig's servers speak HTTP/1.1;
  * in the plugin's JSON text, each string in `replace` is swapped (the IdP's URL, the client
    ids the test IdP registers), and `patch` is merged in at the top level.

Everything else (routes, HCM settings, the plugin's rules, bypasses, headers, sessions) is
the profile's own, so a test of it tests what a user copies.
"""
import copy
import json
from pathlib import Path

from . import harness
from .samples import load_docs, walk
from .procs import ROOT, WASM, Proc, envoy_command, free_port


EXAMPLES = ROOT / "envoy" / "examples"
WASM_FILTER = "envoy.filters.http.wasm"


def plugin_config(bootstrap: dict) -> dict:
    """The filter's JSON configuration in a bootstrap."""
    [wasm] = [f for f in walk(bootstrap) if f.get("name") == WASM_FILTER]
    return json.loads(wasm["typed_config"]["config"]["configuration"]["value"])


def load(path: Path) -> dict:
    [doc] = load_docs(path)
    return doc


class ProfileEnvoy(harness.Envoy):
    """A real Envoy running a profile's bootstrap (see the module doc for what is moved)."""

    def __init__(self, log_dir: Path, profile: str, clusters: dict, replace: dict = None, patch: dict = None,
                 env: dict = None, file: str = "envoy.yaml", name="envoy"):
        self.log_dir = log_dir
        self.name = name
        self.concurrency = 1
        self.proc = None
        self.env = env or {}
        self.path = EXAMPLES / profile / file
        self.port, self.admin_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        boot = copy.deepcopy(load(self.path))
        boot["admin"] = {"address": {"socket_address": {"address": "127.0.0.1", "port_value": self.admin_port}}}
        [listener] = boot["static_resources"]["listeners"]
        listener["address"] = {"socket_address": {"address": "127.0.0.1", "port_value": self.port}}
        names = {c["name"] for c in boot["static_resources"]["clusters"]}
        missing = set(clusters) - names
        assert not missing, f"{self.path.name} has no cluster {missing}"
        boot["static_resources"]["clusters"] = [self._cluster(c, clusters) for c in boot["static_resources"]["clusters"]]
        [wasm] = [f for f in walk(boot) if f.get("name") == WASM_FILTER]
        config = wasm["typed_config"]["config"]
        config["vm_config"]["code"] = {"local": {"filename": str(WASM)}}
        text = config["configuration"]["value"]
        for old, new in (replace or {}).items():
            assert old in text, f"{self.path.name}: {old!r} is not in the plugin config"
            text = text.replace(old, new)
        plugin = json.loads(text)
        plugin.update(patch or {})
        config["configuration"]["value"] = json.dumps(plugin)
        self.plugin = plugin
        self.config_path = log_dir / f"{name}.json"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(boot, indent=1))

    @staticmethod
    def _cluster(c: dict, clusters: dict) -> dict:
        if c["name"] not in clusters:
            return c
        port = clusters[c["name"]]
        return {"name": c["name"], "type": "STATIC", "connect_timeout": "1s",
                "load_assignment": {"cluster_name": c["name"], "endpoints": [{"lb_endpoints": [{"endpoint": {
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]}}

    def start(self, wait=True):
        cmd = envoy_command() + ["-c", self.config_path, "--concurrency", "1", "--disable-hot-restart",
                                 "-l", "info", "--component-log-level", "wasm:debug"]
        self.proc = Proc(self.name, cmd, self.log_dir, env=self.env)
        if wait:
            self.wait_ready()
        return self
