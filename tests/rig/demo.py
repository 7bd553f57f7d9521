"""The demo: Envoy with oidc-gate, the real IdP with a login form, and a who-am-I page.

Secrets (the client secret and the session key) are generated at every start and never
written to the repository.
"""
import base64
import json
import secrets
import socket
from pathlib import Path

from . import envoycfg
from .harness import Idp
from .procs import WASM, Proc, envoy_command, free_port, wait_for_port


def port_or_free(wanted: int) -> int:
    if not wanted:
        return free_port()
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", wanted))
            return wanted
        except OSError:
            return free_port()


class Demo:
    def __init__(self, work: Path, port: int = 8080, idp_port: int = 9000):
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.port = port_or_free(port)
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_port = free_port()
        self.app_port = free_port()
        client_secret = self.client_secret = secrets.token_urlsafe(24)
        session_key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.idp = Idp(work, port=port_or_free(idp_port), extra=[
            "--login", "form", "--client-secret", client_secret, "--no-test-routes",
            "--redirect-uri", f"{self.url}/oauth2/callback", "--post-logout-uri", f"{self.url}/",
        ])
        self.plugin_config = {
            "issuer": self.idp.issuer,
            "idp_cluster": "idp",
            "client_id": "web",
            "client_secret": {"env": "OIDC_CLIENT_SECRET"},
            "scopes": ["openid", "email", "profile", "groups"],
            "session": {"keys": [{"env": "SESSION_KEY"}], "lifetime": "8h", "idle_timeout": "1h"},
            "identity_headers": {"x-user-id": "sub", "x-user-email": "email", "x-user-name": "name", "x-user-groups": "groups"},
            "require_email_verified": True,
            "bearer": {"audiences": ["api://orders"]},
            "api_paths": [{"prefix": "/api/"}],
            "bypass": [{"prefix": "/healthz"}],
            # alice is in "admins", bob is not: /admin shows the 403 page to bob.
            "authorization": {"rules": [{"path": {"prefix": "/admin"}, "groups_any": ["admins"]}]},
        }
        env = {"OIDC_CLIENT_SECRET": client_secret, "SESSION_KEY": session_key}
        listeners = [envoycfg.listener("demo", self.port, "app", [envoycfg.wasm_filter(WASM, self.plugin_config, env)])]
        clusters = [envoycfg.cluster("idp", self.idp.port), envoycfg.cluster("app", self.app_port)]
        self.config_path = work / "demo-envoy.json"
        self.config_path.write_text(json.dumps(envoycfg.bootstrap(self.admin_port, listeners, clusters), indent=1))
        self.procs = []

    def start(self, with_idp=True):
        try:
            return self._start(with_idp)
        except BaseException:
            self.stop()
            raise

    def _start(self, with_idp):
        self.procs.append(self.idp)
        if with_idp:
            self.idp.start()
        app = Proc("whoami", ["python3", Path(__file__).parent / "whoami.py", self.app_port], self.work)
        self.procs.append(app)
        app.wait_for_log("whoami ready")
        envoy = Proc("envoy", envoy_command() + ["-c", self.config_path, "--concurrency", "2", "--disable-hot-restart", "-l", "warning"], self.work)
        self.procs.append(envoy)
        wait_for_port(self.port, 30, envoy.popen)
        self.envoy = envoy
        return self

    def stop(self):
        for p in reversed(self.procs):
            p.stop()
