"""The profiles in envoy/examples/<name>/, each loaded into a real Envoy as written (only the
ports, the module path, the upstream and IdP addresses and the IdP's client registrations are
moved into the rig: see rig/profile.py), proving the behaviour its README promises against the
real IdP (oidc-provider) or the GitHub-shaped server."""
import base64
import hashlib
import subprocess

from rig.browser import Browser
from rig.harness import request

SESSION_KEY = base64.b64encode(bytes(range(32))).decode()
ENV = {"OIDC_CLIENT_SECRET": "test-secret", "SESSION_KEY": SESSION_KEY}
SESSION = "__Host-oidc_session"
XHR = {"accept": "application/json", "sec-fetch-mode": "cors"}


def grpc(envoy, path, headers=()):
    """A real HTTP/2 gRPC call (curl, prior knowledge); returns the response head, lower-case.
    The request ends with its headers: a denial answered while curl still uploads a body is
    reset by Envoy (NO_ERROR, as HTTP/2 allows), which curl reports as a failure (exit 92)."""
    extra = [a for name, value in headers for a in ("-H", f"{name}: {value}")]
    out = subprocess.run(
        ["curl", "-s", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", "-X", "POST",
         "-H", "content-type: application/grpc", "-H", "te: trailers", *extra,
         f"http://127.0.0.1:{envoy.port}{path}"],
        capture_output=True, timeout=20)
    assert out.returncode == 0, (out.returncode, out.stderr.decode())
    return out.stdout.decode().lower()


def start(rig, profile, apps, idp_flags=(), replace=None, patch=None):
    """The profile's Envoy with its app clusters on the echo upstream and its `idp` cluster on
    the test IdP, whose issuer replaces https://idp.example.com."""
    idp = rig.idp()
    envoy = rig.profile(profile, clusters={"idp": idp.port, **{a: rig.echo_port for a in apps}}, env=ENV,
                        replace={"https://idp.example.com": idp.issuer, **(replace or {})}, patch=patch)
    idp.extra += ["--redirect-uri", f"{envoy.url}/oauth2/callback", "--post-logout-uri", f"{envoy.url}/",
                  *idp_flags]
    idp.start()
    envoy.start()
    return idp, envoy


def signed_in(b, envoy, path):
    chain = b.follow(envoy.url + path)
    assert chain[-1].status == 200, [(r.status, r.url, r.body[:200]) for r in chain]
    assert chain[-1].url == envoy.url + path, "back on the page asked for"
    return chain[-1].json()["headers"]


# ---------------------------------------------------------------- flyte

FLYTE_AUD = "https://flyte.example.com"


def test_flyte_accepts_tokens_in_flyte_authorization_over_grpc_and_http_and_leaves_its_metadata_open(rig):
    idp, envoy = start(rig, "flyte", ["flyteadmin", "flyteadmin_grpc", "flyteconsole"],
                       replace={'"flyte-console"': '"web"'})
    # flytepropeller: client credentials; flytectl: the device flow (a JWT for Flyte's audience).
    propeller = idp.client_credentials(resource=FLYTE_AUD)
    flytectl = idp.device_flow(resource=FLYTE_AUD)["access_token"]
    admin = "/flyteidl.service.AdminService/ListProjects"
    assert "grpc-status: 16" in grpc(envoy, admin)
    assert "grpc-status: 16" in grpc(envoy, admin, [("flyte-authorization", "Bearer not.a.token")])
    for token in (propeller, flytectl):
        ok = grpc(envoy, admin, [("flyte-authorization", f"Bearer {token}")])
        assert ok.startswith("http/2 200") and "grpc-status" not in ok, ok
        ok = grpc(envoy, admin, [("authorization", f"Bearer {token}")])
        assert ok.startswith("http/2 200") and "grpc-status" not in ok, ok
    # A token for another audience is refused, in either header.
    other = idp.client_credentials(resource="api://orders")
    assert "grpc-status: 16" in grpc(envoy, admin, [("flyte-authorization", f"Bearer {other}")])
    # The HTTP API, the same way; the upstream sees who called.
    r = envoy.get("/api/v1/projects", {"flyte-authorization": f"Bearer {flytectl}", "x-flyte-user": "mallory"})
    assert r.status == 200 and r.json()["headers"]["x-flyte-user"] == "alice", r
    assert envoy.get("/api/v1/projects", XHR).status == 401
    # What the CLIs read before they have a token: open, over HTTP and gRPC.
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration",
                 "/config/v1/flyte_client"):
        r = envoy.get(path)
        assert r.status == 200 and r.json()["path"] == path, (path, r)
    meta = grpc(envoy, "/flyteidl.service.AuthMetadataService/GetOAuth2Metadata")
    assert meta.startswith("http/2 200") and "grpc-status" not in meta, meta
    # The console: a browser signs in and lands where it was going.
    h = signed_in(Browser(), envoy, "/console/projects/flytesnacks")
    assert h["x-flyte-user"] == "alice" and h["x-flyte-email"] == "alice@example.com"


# ---------------------------------------------------------------- kubeflow

def test_kubeflow_gets_user_and_groups_headers_after_login_and_xhr_gets_401(rig):
    idp, envoy = start(rig, "kubeflow", ["centraldashboard"], replace={'"kubeflow-oidc-authservice"': '"web"'})
    assert envoy.get("/api/workgroup/env-info", XHR).status == 401
    assert envoy.get("/pipeline/api/v1/runs", XHR).status == 401
    b = Browser()
    h = signed_in(b, envoy, "/_/jupyter/?ns=alice")
    assert h["kubeflow-userid"] == "oidc:alice", "prefix + email rewritten by the transformer"
    assert h["kubeflow-groups"] == "admins,dev"
    # Spoofed copies never reach the dashboard, in any spelling.
    r = b.get(envoy.url + "/api/workgroup/env-info", {"kubeflow-userid": "admin@example.com",
                                                       "Kubeflow-Groups": "cluster-admins", **XHR})
    assert r.status == 200 and r.json()["headers"]["kubeflow-userid"] == "oidc:alice"
    assert r.json()["headers"]["kubeflow-groups"] == "admins,dev"
    # Skip paths are open; logout is the dashboard's own link.
    assert envoy.get("/dex/.well-known/openid-configuration").status == 200
    out = b.get(envoy.url + "/oauth2/sign_out", {"sec-fetch-site": "same-origin"})
    assert out.status == 302 and out.headers["location"].startswith(f"{idp.issuer}/session/end"), out
    assert SESSION not in b.cookies()
    assert b.get(envoy.url + "/").status == 302, "signed out: the next page needs a login"


# ---------------------------------------------------------------- flower

def test_flower_accepts_device_flow_tokens_in_flwr_oidc_access_token_over_grpc(rig):
    idp, envoy = start(rig, "flower", ["superlink_control"],
                       replace={'"flower-superlink"': '"web"', '"flwr-cli"': '"cli"'})
    ls = "/flwr.proto.Control/ListRuns"
    assert "grpc-status: 16" in grpc(envoy, ls)
    jwt = idp.device_flow(resource="https://superlink.example.com")["access_token"]
    opaque = idp.device_flow()["access_token"]
    assert jwt.count(".") == 2 and opaque.count(".") == 0
    for token in (jwt, opaque):
        ok = grpc(envoy, ls, [("flwr-oidc-access-token", token)])
        assert ok.startswith("http/2 200") and "grpc-status" not in ok, ok
        ok = grpc(envoy, ls, [("authorization", f"Bearer {token}")])
        assert ok.startswith("http/2 200") and "grpc-status" not in ok, ok
    assert "grpc-status: 16" in grpc(envoy, ls, [("flwr-oidc-access-token", "forged-token")])
    # Revoked at the IdP: refused once its cache entry ends (cache_ttl 60 s; a new token here).
    fresh = idp.device_flow()["access_token"]
    idp.revoke_token(fresh, client="cli", auth="none")
    assert "grpc-status: 16" in grpc(envoy, ls, [("flwr-oidc-access-token", fresh)])
    assert idp.stats()["introspection"] >= 2


# ---------------------------------------------------------------- flipt

def test_flipt_refuses_an_outsider_at_the_callback_and_accepts_its_api_tokens(rig):
    token = "flipt-ci-" + base64.urlsafe_b64encode(bytes(range(24))).decode()
    digest = hashlib.sha256(token.encode()).hexdigest()
    # The profile lists hashes of tokens nobody holds: the test puts its own in their place.
    from rig.profile import EXAMPLES, load, plugin_config
    listed = [t["sha256"] for t in plugin_config(load(EXAMPLES / "flipt" / "envoy.yaml"))["bearer"]["api_tokens"]]
    idp, envoy = start(rig, "flipt", ["flipt"], idp_flags=["--auto-user", "bob"],
                       replace={'"flipt"': '"web"', listed[0]: digest})
    b = Browser()
    chain = b.follow(envoy.url + "/flags")
    assert chain[-1].status == 403, [(r.status, r.url) for r in chain]  # bob@example.org
    assert b"You do not have access" in chain[-1].body
    assert SESSION not in b.cookies()
    r = envoy.get("/api/v1/namespaces/default/flags", {"authorization": f"Bearer {token}", **XHR})
    assert r.status == 200 and r.json()["headers"]["x-flipt-user"] == "ci-deploy", r
    r = envoy.get("/api/v1/namespaces/default/flags", {"authorization": f"Bearer {token}x", **XHR})
    assert r.status == 401
    assert envoy.get("/health").status == 200


def test_flipt_ends_a_session_at_its_next_refresh_once_the_grant_is_revoked(rig):
    idp, envoy = start(rig, "flipt", ["flipt"], replace={'"flipt"': '"web"'},
                       idp_flags=["--refresh-tokens", "--access-token-ttl", "10"])
    b = Browser()
    assert signed_in(b, envoy, "/flags")["x-flipt-user"] == "alice"
    # 10 s access tokens within the 30 s margin: every request refreshes, and it works.
    before = idp.stats()["token"]["refresh_token"]
    r = b.get(envoy.url + "/api/v1/namespaces/default/flags", XHR)
    assert r.status == 200 and idp.stats()["token"]["refresh_token"] == before + 1, r
    idp.revoke_grant(sub="alice")
    r = b.get(envoy.url + "/api/v1/namespaces/default/flags", XHR)
    assert r.status == 401 and SESSION not in b.cookies(), r
    assert envoy.stats()["oidc_gate.session.ended"] == 1


def test_flipt_with_github_lets_only_members_of_the_organisation_in(rig):
    gh = rig.github()
    api_host = "api.github.com"
    envoy = rig.profile("flipt", file="envoy-github.yaml",
                        clusters={"github": gh.port, "github_api": gh.port, "flipt": rig.echo_port},
                        env={"GITHUB_CLIENT_SECRET": gh.client_secret, "SESSION_KEY": SESSION_KEY},
                        replace={'"Ov23liFliptExample"': f'"{gh.client_id}"'},
                        # GitHub's two hosts, on the rig's server; the profile's own host map
                        # (api.github.com -> github_api) routes the API calls.
                        patch={"github": {"organizations": ["flipt-io"], "web_url": gh.url,
                                          "api_url": f"http://{api_host}:{gh.port}"}})
    gh.start(f"{envoy.url}/oauth2/callback")
    envoy.start()
    gh.sign_in_as("outsider")
    assert Browser().follow(envoy.url + "/flags")[-1].status == 403
    gh.sign_in_as("octocat-member")
    h = signed_in(Browser(), envoy, "/flags")
    assert h["x-flipt-user"] == "octocat-member" and h["x-flipt-email"] == "mona@flipt.example"
    assert "flipt-io" in h["x-flipt-groups"].split(",")
    assert request(envoy.port, "GET", "/api/v1/flags", XHR).status == 401
