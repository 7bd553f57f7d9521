"""The eight IdPs of tests/idp/quirks.mjs, and one Envoy with one listener (and one filter
config) per IdP in front of the echo upstream: what tests/e2e/test_idps.py runs against."""
import base64
import json
from pathlib import Path

from . import envoycfg
from .harness import request, wait_envoy_ready
from .procs import IDP_DIR, WASM, Proc, envoy_command, free_port, wait_for_port

KEY = base64.b64encode(bytes(range(32))).decode()
CLIENT = {"client_id": "gate", "client_secret": "gate-secret"}
TENANT_A = "11111111-aaaa-4aaa-8aaa-111111111111"
TENANT_B = "22222222-bbbb-4bbb-8bbb-222222222222"
G_ADMINS = "aaaaaaaa-0000-4000-8000-000000000001"
G_DEV = "aaaaaaaa-0000-4000-8000-000000000002"
NS_ROLES = "https://example.com/roles"


class Quirks:
    """The quirks server: one process, one port per IdP host."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.proc = None
        self.ports = {}

    def start(self):
        self.proc = Proc("quirks", ["node", IDP_DIR / "quirks.mjs"], self.log_dir, cwd=IDP_DIR)
        self.proc.wait_for_log("quirks ready ", timeout=60)
        line = next(x for x in self.proc.own_log().splitlines() if x.startswith("quirks ready "))
        self.ports = json.loads(line.split(" ", 2)[2])
        return self

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    def url(self, role: str) -> str:
        return f"http://127.0.0.1:{self.ports[role]}"

    def _call(self, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        r = request(self.ports["okta"], "POST" if data else "GET", path,
                    {"content-type": "application/json"} if data else {}, data)
        assert r.status == 200, r
        return r.json()

    def sign_in_as(self, persona: str, user: str):
        self._call("/__test/user", {"persona": persona, "user": user})

    def sign(self, persona: str, claims: dict, header=None) -> str:
        return self._call("/__test/sign", {"persona": persona, "claims": claims, "header": header or {}})["token"]

    def okta_org_token(self, **claims) -> str:
        return self._call("/__test/okta-org-token", {"claims": claims})["token"]

    def okta_revoke(self, token: str):
        self._call("/__test/okta-revoke", {"token": token})

    def stats(self) -> dict:
        return self._call("/__test/stats")


def configs(q: Quirks) -> dict:
    """The filter config of each listener (each IdP's sample, pointed at the quirks server)."""
    p = q.ports
    google_hosts = {f"oauth2.googleapis.test:{p['google.oauth2']}": "google_oauth2",
                    f"openidconnect.googleapis.test:{p['google.openidconnect']}": "google_openidconnect",
                    f"www.googleapis.test:{p['google.www']}": "google_www"}
    login = {**CLIENT, "session": {"keys": [KEY]}, "api_paths": [{"prefix": "/api/"}]}
    admin_rule = lambda group: {"rules": [{"path": {"prefix": "/admin"}, "groups_any": [group]}]}  # noqa: E731
    entra = {**login, "issuer": f"{q.url('entra.login')}/organizations/v2.0", "tenants": [TENANT_A],
             "issuer_aliases": ["https://sts.windows.net/{tenantid}/"], "idp_cluster": "entra_login",
             "idp_clusters": {f"graph.microsoft.test:{p['entra.graph']}": "entra_graph"},
             "bearer": {"audiences": ["api://gate"]}, "groups_header": {"header": "x-groups"},
             "identity_headers": {"x-user": "preferred_username", "x-tid": "tid"},
             "authorization": admin_rule(G_ADMINS)}
    okta = q.url("okta")
    return {
        "google": {**login, "issuer": q.url("google.accounts"), "issuer_aliases": [f"127.0.0.1:{p['google.accounts']}"],
                   "idp_cluster": "google_accounts", "idp_clusters": google_hosts,
                   "authorization_params": {"hd": "example.com"},
                   "identity_headers": {"x-email": "email", "x-name": "name", "x-hd": "hd"},
                   "authorization": {"claims": [{"claim": "hd", "equals": "example.com"}]}},
        "entra": entra,
        "entra_graph": {**entra, "graph_url": f"http://graph.microsoft.test:{p['entra.graph']}"},
        "entra_no_tenants": {**entra, "tenants": []},
        "okta": {**CLIENT, "issuer": okta, "idp_cluster": "okta",
                 "bearer": {"audiences": [okta], "introspection": {},
                            "issuers": [{"issuer": f"{okta}/oauth2/default", "audiences": ["api://default"]}]},
                 "identity_headers": {"x-user": "sub"}, "groups_header": {"header": "x-groups"}},
        "auth0": {**login, "issuer": f"{q.url('auth0')}/", "idp_cluster": "auth0",
                  "authorization_params": {"audience": "https://api.example.com"}, "forward_access_token": True,
                  "groups_claim": NS_ROLES, "groups_header": {"header": "x-roles"},
                  "bearer": {"audiences": ["https://api.example.com"]},
                  "logout_url": f"{q.url('auth0')}/v2/logout?client_id={{client_id}}&returnTo={{post_logout_redirect}}",
                  "post_logout_redirect": "/bye", "identity_headers": {"x-email": "email"},
                  "authorization": admin_rule("admin")},
        "keycloak": {**login, "issuer": f"{q.url('keycloak')}/realms/demo", "idp_cluster": "keycloak",
                     "groups_claim": "realm_access.roles", "groups_header": {"header": "x-groups"},
                     "bearer": {"audiences": ["gate-api"]}, "identity_headers": {"x-user": "preferred_username"},
                     "authorization": admin_rule("admin")},
        "cognito": {**login, "issuer": f"{q.url('cognito.idp')}/us-east-1_Example", "idp_cluster": "cognito_idp",
                    "idp_clusters": {f"127.0.0.1:{p['cognito.auth']}": "cognito_auth"},
                    "logout_url": f"{q.url('cognito.auth')}/logout?client_id={{client_id}}&logout_uri={{post_logout_redirect}}",
                    "groups_claim": "cognito:groups", "groups_header": {"header": "x-groups"},
                    "bearer": {"client_ids": ["gate"]}, "forward_access_token": True,
                    "identity_headers": {"x-email": "email"}},
        "dex": {**login, "issuer": f"{q.url('dex')}/dex", "idp_cluster": "dex",
                "scopes": ["openid", "email", "profile", "groups", "federated:id"],
                "groups_header": {"header": "kubeflow-groups"}, "user_id": {"header": "kubeflow-userid", "claim": "email"},
                "identity_headers": {"x-connector": "federated_claims.connector_id",
                                     "x-upstream-id": "federated_claims.user_id"}},
        "gitlab": {**login, "issuer": q.url("gitlab"), "idp_cluster": "gitlab",
                   "groups_header": {"header": "x-groups"}, "identity_headers": {"x-user": "nickname"},
                   "authorization": {"rules": [{"path": {"prefix": "/ops"}, "groups_any": ["acme/ops"]}]}},
    }


class MultiEnvoy:
    """One Envoy, one listener per filter config (each its own VM), all to the echo upstream."""

    def __init__(self, log_dir: Path, plugin_configs: dict, q: Quirks, echo_port: int):
        self.log_dir = log_dir
        self.admin_port = free_port()
        self.ports = {name: free_port() for name in plugin_configs}
        listeners = []
        for name, cfg in plugin_configs.items():
            f = envoycfg.wasm_filter(WASM, cfg)
            f["typed_config"]["config"]["vm_config"]["vm_id"] = f"oidc-gate-{name}"
            listeners.append(envoycfg.listener(name, self.ports[name], "echo", [f]))
        clusters = [envoycfg.cluster("echo", echo_port)] + [
            envoycfg.cluster(role.replace(".", "_"), port) for role, port in q.ports.items()]
        self.config_path = log_dir / "envoy.json"
        self.config_path.write_text(json.dumps(envoycfg.bootstrap(self.admin_port, listeners, clusters), indent=1))
        self.proc = None

    def start(self):
        cmd = envoy_command() + ["-c", self.config_path, "--concurrency", "1", "--disable-hot-restart",
                                 "-l", "info", "--component-log-level", "wasm:debug"]
        self.proc = Proc("envoy", cmd, self.log_dir)
        wait_envoy_ready(self.admin_port, self.proc, 60)
        for port in self.ports.values():
            wait_for_port(port, 30, self.proc.popen)
        return self

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def get(self, name: str, path: str, headers=None):
        return request(self.ports[name], "GET", path, headers)

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None
