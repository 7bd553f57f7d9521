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


# The filter counts in each worker's memory and hands the counts to Envoy on its tick
# (every 200 ms): a counter read waits two ticks, so it shows every request made before it.
COUNTERS_LAG = 0.45


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


def wait_envoy_ready(admin_port: int, proc: Proc, timeout: float = 30) -> None:
    """Until Envoy's admin /ready says LIVE; raises if Envoy exits or the time runs out."""
    wait_for_port(admin_port, timeout, proc.popen)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if request(admin_port, "GET", "/ready").body.strip() == b"LIVE":
                return
        except OSError:
            pass
        if not proc.alive():
            raise RuntimeError(f"envoy exited:\n{proc.log()[-4000:]}")
        time.sleep(0.05)
    raise TimeoutError(f"envoy not LIVE after {timeout}s:\n{proc.log()[-4000:]}")


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

    def fault(self, **fault):
        """Test route: the IdP answers `paths` (prefixes) with `status`, after `delay_ms`, or
        with a garbage 200 (`garbage=True`), for `seconds` (or until cleared: fault())."""
        body = json.dumps(fault).encode() if fault else b""
        return self._post("/__test/fault", body, {"content-type": "application/json"})

    def stats(self):
        with urllib.request.urlopen(self.issuer + "/__test/stats", timeout=10) as r:
            return json.loads(r.read())

    class Error(Exception):
        """An error answer of the IdP: `status` (HTTP) and `body` (parsed JSON, e.g.
        {"error": "invalid_grant", "error_description": ...})."""

        def __init__(self, status, body):
            super().__init__(f"IdP answered {status}: {body}")
            self.status = status
            self.body = body

    def _call(self, path, fields=None, client=None, secret="test-secret", auth="basic", json_body=None):
        """POSTs a form (or JSON); client authentication "basic", "post" or "none" (public
        client: client_id in the form). Returns the parsed JSON ({} for an empty body) of a
        2xx answer; raises Idp.Error(status, body) otherwise."""
        import base64
        import urllib.error
        import urllib.parse
        headers = {}
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["content-type"] = "application/json"
        else:
            fields = {k: v for k, v in (fields or {}).items() if v is not None}
            if client and auth == "basic":
                headers["authorization"] = "Basic " + base64.b64encode(f"{client}:{secret}".encode()).decode()
            elif client and auth == "post":
                fields.update(client_id=client, client_secret=secret)
            elif client:
                fields["client_id"] = client
            data = urllib.parse.urlencode(fields).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(self.issuer + path, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"raw": raw.decode(errors="replace")}
            raise Idp.Error(e.code, body) from None
        return json.loads(raw) if raw.strip() else {}

    def refresh(self, refresh_token, client="web", secret="test-secret", scope=None, resource=None, auth="basic"):
        """The refresh_token grant. Returns the token response (access_token, refresh_token,
        id_token when openid was granted...); raises Idp.Error (400, {"error": "invalid_grant"})
        for a revoked, reused or expired refresh token. Public clients (cli): auth="none"."""
        if client == "cli" and auth == "basic":
            auth = "none"
        return self._call("/token", {"grant_type": "refresh_token", "refresh_token": refresh_token,
                                     "scope": scope, "resource": resource}, client, secret, auth)

    def introspect(self, token, client="web", secret="test-secret", hint=None, auth="basic"):
        """RFC 7662. Returns the JSON ({"active": false} for an unknown, expired or revoked
        token); raises Idp.Error(400, unsupported_token_type) for a JWT access token."""
        return self._call("/token/introspection", {"token": token, "token_type_hint": hint}, client, secret, auth)

    def revoke_token(self, token, client="web", secret="test-secret", hint=None, auth="basic"):
        """RFC 7009, for a token of `client`. Returns {} (200, also for unknown tokens);
        revoking a refresh token also revokes its grant. Raises Idp.Error otherwise."""
        return self._call("/token/revocation", {"token": token, "token_type_hint": hint}, client, secret, auth)

    def revoke_grant(self, sub=None):
        """Test route: destroys every grant of `sub` (of everyone when None), the tokens and
        codes issued under them, and the user's IdP sessions. Returns
        {"sub", "grants", "tokens", "sessions"} (counts)."""
        return self._call("/__test/revoke-grant", json_body={"sub": sub} if sub else {})

    def opaque_token(self, client="service", secret="test-secret", scope="api", full=False):
        """An opaque access token by client credentials (no resource indicator). Returns the
        token string, or the whole token response when full=True."""
        body = self._call("/token", {"grant_type": "client_credentials", "scope": scope}, client, secret)
        return body if full else body["access_token"]

    def approve_device(self, user_code, sub="alice", deny=False):
        """Test route: completes the user interaction of a device code as `sub` (or denies it).
        Returns {"ok": true, ...}; raises Idp.Error(400, ...) when it could not."""
        return self._call("/__test/approve-device", json_body={"user_code": user_code, "sub": sub, "deny": deny})

    def device_flow(self, resource=None, scope="openid api", client="cli", sub="alice", secret="test-secret"):
        """The whole device authorization grant (RFC 8628): device authorization request,
        approval through the test route, polling of the token endpoint. Returns the token
        response: a JWT access token (aud = resource) when `resource` is given, else opaque;
        a refresh token with offline_access in scope or --refresh-tokens."""
        auth = "none" if client == "cli" else "basic"
        device = self._call("/device/auth", {"scope": scope, "resource": resource}, client, secret, auth)
        self.approve_device(device["user_code"], sub)
        deadline = time.monotonic() + 30
        interval = device.get("interval", 1)
        while True:
            try:
                return self._call("/token", {"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                                             "device_code": device["device_code"]}, client, secret, auth)
            except Idp.Error as e:
                if e.body.get("error") not in ("authorization_pending", "slow_down") or time.monotonic() > deadline:
                    raise
                interval += 5 if e.body.get("error") == "slow_down" else 0
                time.sleep(min(interval, 5))


class Github:
    """The GitHub-shaped OAuth server (rig/github.py): one port for the web and API hosts."""

    def __init__(self, log_dir: Path, client_id="gh-client", client_secret="gh-secret", api_prefix=None):
        self.log_dir = log_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.client_id, self.client_secret, self.api_prefix = client_id, client_secret, api_prefix
        self.proc = None

    def start(self, redirect_uri: str):
        cmd = ["python3", Path(__file__).parent / "github.py", "--port", self.port, "--client-id", self.client_id,
               "--client-secret", self.client_secret, "--redirect-uri", redirect_uri]
        if self.api_prefix:
            cmd += ["--api-prefix", self.api_prefix]
        self.proc = Proc("github", cmd, self.log_dir)
        self.proc.wait_for_log("github ready")
        return self

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        r = request(self.port, method, path, {"content-type": "application/json"} if data else {}, data)
        assert r.status == 200, r
        return r.json()

    def sign_in_as(self, login: str):
        """Who the authorize page signs in (the person at the browser)."""
        return self._call("POST", "/__test/user", {"login": login})

    def stats(self) -> dict:
        return self._call("GET", "/__test/stats")


class Envoy:
    """A real Envoy running the built filter in front of the echo upstream."""

    def __init__(self, log_dir: Path, plugin_config: dict, idp_port: int, echo_port: int, env=None, name="envoy",
                 normalize=True, concurrency=1, clusters=None):
        self.log_dir = log_dir
        self.port = free_port()
        self.admin_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        filters = [envoycfg.wasm_filter(WASM, plugin_config, env)]
        listeners = [envoycfg.listener("gate", self.port, "echo", filters, normalize)]
        clusters = [envoycfg.cluster("idp", idp_port), envoycfg.cluster("echo", echo_port)] + [
            envoycfg.cluster(n, p) for n, p in (clusters or {}).items()]
        self.config_path = log_dir / f"{name}.json"
        self.config_path.write_text(json.dumps(envoycfg.bootstrap(self.admin_port, listeners, clusters), indent=1))
        self.name = name
        self.concurrency = concurrency
        self.proc = None

    def start(self, wait=True):
        cmd = envoy_command() + ["-c", self.config_path, "--concurrency", str(self.concurrency), "--disable-hot-restart",
                                 "-l", "info", "--component-log-level", "wasm:debug"]
        self.proc = Proc(self.name, cmd, self.log_dir)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        wait_envoy_ready(self.admin_port, self.proc, timeout)
        wait_for_port(self.port, timeout, self.proc.popen)

    def stop(self):
        if self.proc:
            self.proc.stop()

    def get(self, path, headers=None, **kw):
        return request(self.port, "GET", path, headers, **kw)

    def request(self, method, path, headers=None, body=None):
        return request(self.port, method, path, headers, body)

    def stats(self) -> dict:
        time.sleep(COUNTERS_LAG)
        text = request(self.admin_port, "GET", "/stats?filter=oidc_gate").body.decode()
        out = {}
        for line in text.splitlines():
            name, _, value = line.partition(": ")
            if value.strip().isdigit():
                out[name.replace("wasmcustom.", "")] = int(value)
        return out


__all__ = ["Envoy", "Github", "Idp", "request", "start_echo", "Response", "wait_envoy_ready"]
