"""The pieces a test starts: the IdP, the echo upstream and Envoy with the built filter."""
import http.client
import json
import time
import urllib.request
from pathlib import Path

from . import envoycfg
from .procs import WASM, Proc, envoy_command, free_port, start_echo, start_idp, wait_for_port


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value (last wins); see all_headers
        self.body = body
        self.all_headers = []

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.headers} {self.body[:300]!r}>"


def request(port, method, path, headers=None, body=None, timeout=20):
    """One request on a fresh connection. `headers` is a dict, or a list of (name, value)
    pairs when a header must be sent more than once."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(headers, list):
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders(body)
        else:
            conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        resp.all_headers = [(k.lower(), v) for k, v in r.getheaders()]
        return resp
    finally:
        conn.close()


class Idp:
    """The real OpenID provider (oidc-provider), restartable on the same port."""

    def __init__(self, log_dir: Path, port: int = None, extra=()):
        self.log_dir = log_dir
        self.keys_file = log_dir / "idp-keys.json"
        self.port = port or free_port()
        self.extra = list(extra)
        self.proc = None
        self.issuer = f"http://127.0.0.1:{self.port}"

    def start(self):
        self.proc, issuer = start_idp(self.log_dir, self.keys_file, self.port, self.extra)
        assert issuer == self.issuer
        return self

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    def rotate_keys(self):
        """Restarts the IdP with newly generated signing keys (new kids)."""
        self.stop()
        self.keys_file.unlink(missing_ok=True)
        self.start()

    def kids(self):
        return [k["kid"] for k in json.loads(self.keys_file.read_text())["keys"]]

    def _post(self, path, data: bytes, headers):
        req = urllib.request.Request(self.issuer + path, data=data, headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def client_credentials(self, resource="api://orders", client="service", secret="test-secret"):
        """A JWT access token from the token endpoint (RS256; ES256 for resources ending -es256)."""
        import base64
        import urllib.parse
        basic = base64.b64encode(f"{client}:{secret}".encode()).decode()
        body = urllib.parse.urlencode({"grant_type": "client_credentials", "resource": resource, "scope": "api"}).encode()
        return self._post("/token", body, {"authorization": f"Basic {basic}", "content-type": "application/x-www-form-urlencoded"})["access_token"]

    def sign(self, claims: dict, alg="RS256", header=None):
        """A token with arbitrary claims, signed by the IdP's own current key."""
        body = json.dumps({"claims": claims, "alg": alg, "header": header or {}}).encode()
        return self._post("/__test/sign", body, {"content-type": "application/json"})["token"]

    def stats(self):
        with urllib.request.urlopen(self.issuer + "/__test/stats", timeout=10) as r:
            return json.loads(r.read())


class Envoy:
    """A real Envoy running the built filter in front of the echo upstream."""

    def __init__(self, log_dir: Path, plugin_config: dict, idp_port: int, echo_port: int, env=None, name="envoy",
                 normalize=True):
        self.log_dir = log_dir
        self.port = free_port()
        self.admin_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        filters = [envoycfg.wasm_filter(WASM, plugin_config, env)]
        listeners = [envoycfg.listener("gate", self.port, "echo", filters, normalize)]
        clusters = [envoycfg.cluster("idp", idp_port), envoycfg.cluster("echo", echo_port)]
        self.config_path = log_dir / f"{name}.json"
        self.config_path.write_text(json.dumps(envoycfg.bootstrap(self.admin_port, listeners, clusters), indent=1))
        self.name = name
        self.proc = None

    def start(self, wait=True):
        cmd = envoy_command() + ["-c", self.config_path, "--concurrency", "1", "--disable-hot-restart",
                                 "-l", "info", "--component-log-level", "wasm:debug"]
        self.proc = Proc(self.name, cmd, self.log_dir)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        wait_for_port(self.admin_port, timeout, self.proc.popen)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if request(self.admin_port, "GET", "/ready").body.strip() == b"LIVE":
                    break
            except OSError:
                pass
            if not self.proc.alive():
                raise RuntimeError(f"envoy exited:\n{self.proc.log()[-4000:]}")
            time.sleep(0.05)
        wait_for_port(self.port, timeout, self.proc.popen)

    def stop(self):
        if self.proc:
            self.proc.stop()

    def get(self, path, headers=None, **kw):
        return request(self.port, "GET", path, headers, **kw)

    def request(self, method, path, headers=None, body=None):
        return request(self.port, method, path, headers, body)

    def stats(self) -> dict:
        text = request(self.admin_port, "GET", "/stats?filter=oidc_gate").body.decode()
        out = {}
        for line in text.splitlines():
            name, _, value = line.partition(": ")
            if value.strip().isdigit():
                out[name.replace("wasmcustom.", "")] = int(value)
        return out


__all__ = ["Envoy", "Idp", "request", "start_echo", "Response"]
