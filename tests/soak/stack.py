"""What the soak runs: two real IdPs, the echo upstream, and one Envoy (--concurrency 2)
whose listeners come from a file (LDS over the filesystem), so the filter's configuration
can be changed while it serves.

Listeners, all with the built filter (one VM id, as one deployment would have):
  web      the site and API under load: bearer JWTs of two issuers, opaque tokens through
           introspection, a static API token, sessions from real logins, bypass rules
  refresh  sessions with `session.refresh` (short IdP access tokens, rotating refresh tokens)
  short    sessions of 2 s lifetime (makes validly sealed, expired cookies); it keeps the
           first session key for the whole run, so it also shows which key sealed a cookie
"""
import base64
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from rig import envoycfg
from rig.harness import COUNTERS_LAG, Idp, request, wait_envoy_ready
from rig.procs import WASM, Proc, envoy_command, free_port, wait_for_port

SOAK_DIR = Path(__file__).resolve().parent
KEY_OLD = base64.b64encode(hashlib.sha256(b"oidc-gate soak key 1").digest()).decode()
KEY_NEW = base64.b64encode(hashlib.sha256(b"oidc-gate soak key 2").digest()).decode()
API_TOKEN = "soak-api-token-" + hashlib.sha256(b"oidc-gate soak api token").hexdigest()[:24]
SESSION = "__Host-oidc_session"
DRAIN_S = 4


class Phase:
    """The filter configuration in force: which session keys, which identity mapping."""

    def __init__(self, version: int, rotated: bool, mapping_v3: bool):
        self.version = version
        self.rotated = rotated
        self.mapping_v3 = mapping_v3


class Stack:
    def __init__(self, run_dir: Path, access_ttl: int, refresh_margin: int):
        self.run_dir = run_dir
        self.access_ttl = access_ttl
        self.refresh_margin = refresh_margin
        self.ports = {name: free_port() for name in ("web", "refresh", "short")}
        self.admin_port = free_port()
        self.urls = {name: f"http://127.0.0.1:{p}" for name, p in self.ports.items()}
        self.lds_dir = run_dir / "lds"
        self.lds_path = self.lds_dir / "listeners.json"
        self.procs = []
        self.envoy = None
        self.echo = None
        self.epoch = 1  # the main IdP's life: grants and opaque tokens die with it
        self.client_ids = True  # bearer.client_ids (opaque tokens without an audience)
        # A copy of the module: every listener update loads it again, and a rebuild during
        # the run must not change (or half-write) the filter under test.
        self.wasm = run_dir / WASM.name
        shutil.copyfile(WASM, self.wasm)

    # ---- processes ------------------------------------------------------------------

    def start(self):
        (self.run_dir / "idp-main").mkdir(parents=True, exist_ok=True)
        (self.run_dir / "idp-other").mkdir(parents=True, exist_ok=True)
        redirects = []
        for name in ("web", "refresh", "short"):
            redirects += ["--redirect-uri", f"{self.urls[name]}/oauth2/callback", "--post-logout-uri", f"{self.urls[name]}/"]
        # The main IdP: form login (several users), refresh tokens rotated on every use,
        # short access tokens so sessions renew often. Opaque tokens live as long.
        self.idp = Idp(self.run_dir / "idp-main", extra=[
            "--login", "form", "--refresh-tokens", "--rotate-refresh-tokens",
            "--access-token-ttl", str(self.access_ttl), "--refresh-token-ttl", "86400", *redirects]).start()
        # The second issuer: bearer tokens only, long-lived.
        self.other = Idp(self.run_dir / "idp-other", extra=["--access-token-ttl", "86400"]).start()
        echo_port = free_port()
        self.echo = Proc("echo", ["python3", SOAK_DIR / "echo.py", echo_port], self.run_dir)
        self.echo.wait_for_log("echo ready")
        self.procs.append(self.echo)
        self.lds_dir.mkdir(parents=True, exist_ok=True)
        self.phase = Phase(1, rotated=False, mapping_v3=False)
        self.write_listeners(self.phase)
        clusters = [envoycfg.cluster("idp", self.idp.port), envoycfg.cluster("idp_other", self.other.port),
                    envoycfg.cluster("echo", echo_port)]
        boot = {
            # A filesystem subscription needs a node identity.
            "node": {"id": "oidc-gate-soak", "cluster": "oidc-gate-soak"},
            "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": self.admin_port}}},
            "static_resources": {"clusters": clusters},
            "dynamic_resources": {"lds_config": {
                "resource_api_version": "V3",
                # Reloaded when an entry is moved into the watched directory: the file is
                # written beside it and renamed over, so Envoy never reads half a file.
                "path_config_source": {"path": str(self.lds_path), "watched_directory": {"path": str(self.lds_dir)}},
            }},
        }
        boot_path = self.run_dir / "envoy-bootstrap.json"
        boot_path.write_text(json.dumps(boot, indent=1))
        cmd = envoy_command() + ["-c", boot_path, "--concurrency", "2", "--disable-hot-restart", "-l", "info",
                                 "--drain-time-s", str(DRAIN_S), "--drain-strategy", "immediate"]
        self.envoy = Proc("envoy", cmd, self.run_dir)
        self.procs.append(self.envoy)
        wait_envoy_ready(self.admin_port, self.envoy, 60)
        for port in self.ports.values():
            wait_for_port(port, 30, self.envoy.popen)
        self.envoy_pid = find_envoy_pid(self.envoy.pid)
        return self

    def stop(self):
        for p in reversed(self.procs):
            p.stop()
        for idp in (getattr(self, "other", None), getattr(self, "idp", None)):
            if idp:
                idp.stop()

    def stop_idp(self):
        self.idp.stop()

    def start_idp(self):
        self.idp.start()
        self.epoch += 1

    # ---- configuration --------------------------------------------------------------

    def plugin_config(self, listener: str, phase: Phase) -> dict:
        headers = {"x-user-id": "sub", "x-user-email": "email", "x-user-groups": "groups", "x-client-id": "client_id"}
        if listener == "web" and phase.mapping_v3:
            headers["x-user-iss"] = "iss"
        keys = [KEY_NEW, KEY_OLD] if phase.rotated and listener != "short" else [KEY_OLD]
        session = {"keys": keys, "lifetime": "8h", "idle_timeout": "4h"}
        if listener == "refresh":
            session.update(refresh=True, refresh_margin=f"{self.refresh_margin}s")
        if listener == "short":
            session.update(lifetime="2s", idle_timeout="0s")
        return {
            "issuer": self.idp.issuer,
            "idp_cluster": "idp",
            "idp_clusters": {f"127.0.0.1:{self.other.port}": "idp_other"},
            "client_id": "web",
            "client_secret": "test-secret",
            "scopes": ["openid", "email", "profile", "groups"],
            "bearer": {
                "audiences": ["api://orders"],
                "issuers": [{"issuer": self.other.issuer, "audiences": ["api://orders-es256"]}],
                "introspection": {"cache_ttl": "10s", "inactive_cache_ttl": "5s"},
                "api_tokens": [{"name": "ci-bot", "sha256": hashlib.sha256(API_TOKEN.encode()).hexdigest(),
                                "groups": ["ci"], "scopes": ["api:read"]}],
                # Opaque tokens name no audience: the client they were issued to must be accepted.
                **({"client_ids": ["service"]} if self.client_ids else {}),
            },
            "identity_headers": headers,
            "session": session,
            "forward_access_token": listener == "refresh",
            "api_paths": [{"prefix": "/api/"}],
            "bypass": [{"prefix": "/healthz"}],
            "clock_skew": "5s",
            "metadata_refresh": "15s",
            "jwks_refetch_min_interval": "5s",
            "idp_timeout": "2s",
            "startup_wait": "5s",
        }

    def listener(self, name: str, phase: Phase) -> dict:
        filt = envoycfg.wasm_filter(self.wasm, self.plugin_config(name, phase))
        lst = envoycfg.listener(name, self.ports[name], "echo", [filt])
        hcm = lst["filter_chains"][0]["filters"][0]["typed_config"]
        # The stat prefix names the version, so the admin config dump shows which is active.
        hcm["stat_prefix"] = f"{name}_v{phase.version}"
        # The client's x-request-id comes back on every response, local replies included:
        # that is how the load generator pairs an answer with the request it sent.
        hcm["preserve_external_request_id"] = True
        hcm["always_set_request_id_in_response"] = True
        return lst

    def write_listeners(self, phase: Phase):
        doc = {"version_info": f"v{phase.version}", "resources": [
            {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", **self.listener(n, phase)}
            for n in ("web", "refresh", "short")]}
        tmp = self.lds_dir / f".listeners.v{phase.version}.tmp"
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, self.lds_path)

    def active_versions(self) -> dict:
        """{listener: (active stat prefix, warming?, draining?)} from the admin config dump."""
        dump = json.loads(request(self.admin_port, "GET", "/config_dump?resource=dynamic_listeners").body)
        out = {}
        for c in dump.get("configs", []):
            active = c.get("active_state", {}).get("listener", {})
            try:
                prefix = active["filter_chains"][0]["filters"][0]["typed_config"]["stat_prefix"]
            except (KeyError, IndexError):
                prefix = None
            out[c["name"]] = (prefix, "warming_state" in c, "draining_state" in c)
        return out

    def switch(self, phase: Phase, timeout=60) -> tuple:
        """Writes the listeners of `phase`; returns (time written, time active on every
        listener, time the old listeners finished draining), epoch seconds."""
        written = time.time()
        self.write_listeners(phase)
        active = drained = None
        deadline = written + timeout
        while time.time() < deadline:
            v = self.active_versions()
            if active is None and all(v.get(n, (None,))[0] == f"{n}_v{phase.version}" and not v[n][1] for n in self.ports):
                active = time.time()
            if active is not None and not any(x[2] for x in v.values()) and self.draining() == 0:
                drained = time.time()
                break
            time.sleep(0.1)
        if drained is None:
            raise RuntimeError(f"listeners v{phase.version} not active and drained in {timeout}s: {self.active_versions()}")
        self.phase = phase
        return written, active, drained

    def draining(self) -> int:
        """Listeners still draining (the old versions), from the listener manager's gauge."""
        text = request(self.admin_port, "GET", "/stats?filter=listener_manager.total_listeners_draining").body.decode()
        for line in text.splitlines():
            name, _, value = line.partition(": ")
            if name.endswith("total_listeners_draining") and value.strip().isdigit():
                return int(value)
        return 0

    # ---- measurements ---------------------------------------------------------------

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.envoy_pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stats(self) -> dict:
        time.sleep(COUNTERS_LAG)
        text = request(self.admin_port, "GET", "/stats?filter=oidc_gate").body.decode()
        out = {}
        for line in text.splitlines():
            name, _, value = line.partition(": ")
            if value.strip().isdigit():
                out[name.replace("wasmcustom.", "")] = int(value)
        return out


def find_envoy_pid(pid: int) -> int:
    """The Envoy process itself: `pid`, or its descendant when a launcher (func-e) runs it."""
    todo = [pid]
    while todo:
        p = todo.pop(0)
        try:
            if Path(f"/proc/{p}/comm").read_text().strip() == "envoy":
                return p
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return pid


__all__ = ["Stack", "Phase", "API_TOKEN", "SESSION", "KEY_OLD", "KEY_NEW"]
