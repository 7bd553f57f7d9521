"""Who may pass, end to end: per-path rules and global requirements in a real Envoy, for
sessions from real logins at the test IdP (bob: groups dev) and for bearer tokens the IdP
signed; each denial in the shape its client reads (a page, JSON, insufficient_scope, gRPC 7)."""
import subprocess
import time

from rig.browser import Browser
from test_login import KEY_A, SESSION

XHR = {"accept": "application/json", "sec-fetch-mode": "cors"}


def authz_site(rig, user="bob", **overrides):
    idp = rig.idp()
    cfg = {
        "issuer": idp.issuer, "idp_cluster": "idp", "client_id": "web", "client_secret": "test-secret",
        "scopes": ["openid", "email", "profile", "groups"],
        "session": {"keys": [KEY_A]},
        "bearer": {"audiences": ["api://orders"]},
        "identity_headers": {"x-user-id": "sub", "x-user-email": "email"},
        "groups_header": {"header": "x-user-groups", "claim": "groups"},
        "require_email_verified": True,
        "authorization": {"rules": [
            {"path": {"prefix": "/admin"}, "groups_any": ["admins"]},
            {"path": {"prefix": "/api/"}, "methods": ["POST", "DELETE"], "scopes_any": ["api:write"]},
            {"path": {"prefix": "/public/"}, "allow": "anyone"},
        ]},
        **overrides,
    }
    envoy = rig.envoy(cfg, idp.port, start=False)
    idp.extra += ["--redirect-uri", f"{envoy.url}/oauth2/callback", "--auto-user", user]
    idp.start()
    envoy.start()
    return idp, envoy


def token(idp, **claims):
    now = int(time.time())
    base = {"iss": idp.issuer, "aud": "api://orders", "sub": "svc", "exp": now + 300, "iat": now}
    return idp.sign({**base, **claims})


def grpc_status(envoy, path, token_value):
    out = subprocess.run(
        ["curl", "-s", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", "-X", "POST",
         "-H", "content-type: application/grpc", "-H", "te: trailers", "-H", f"authorization: Bearer {token_value}",
         f"http://127.0.0.1:{envoy.port}{path}"], capture_output=True, timeout=20)
    assert out.returncode == 0, out.stderr
    head = out.stdout.decode().lower()
    return next((line.split(":", 1)[1].strip() for line in head.splitlines() if line.startswith("grpc-status:")), None)


def test_a_non_admin_gets_403_in_every_shape_and_an_admin_gets_through(rig):
    idp, envoy = authz_site(rig, user="bob")
    b = Browser()
    chain = b.follow(envoy.url + "/admin/users")
    page = chain[-1]
    # Bob signs in (groups: dev), and /admin answers a page naming him, with a sign-out.
    assert page.status == 403, [(r.status, r.url) for r in chain]
    assert b"You do not have access" in page.body and b"bob" in page.body and b"/oauth2/logout" in page.body
    assert SESSION in b.cookies(), "signed in: only this path is forbidden"
    assert b.get(envoy.url + "/home").json()["headers"]["x-user-groups"] == "dev"
    xhr = b.get(envoy.url + "/admin/users", XHR)
    assert xhr.status == 403 and xhr.json()["error"] == "forbidden"
    # Bearer tokens: groups decide /admin, scopes decide writes under /api/.
    dev = token(idp, groups=["dev"], scope="api:read")
    admin = token(idp, sub="root", groups=["admins"], scope="api:read")
    assert envoy.get("/admin/users", {"authorization": f"Bearer {dev}"}).status == 403
    r = envoy.get("/admin/users", {"authorization": f"Bearer {admin}"})
    assert r.status == 200 and r.json()["headers"]["x-user-id"] == "root"
    r = envoy.request("POST", "/api/items", {"authorization": f"Bearer {dev}"}, b"{}")
    assert r.status == 403, r
    assert r.headers["www-authenticate"].startswith('Bearer realm="oidc-gate", error="insufficient_scope"')
    assert 'scope="api:write"' in r.headers["www-authenticate"]
    writer = token(idp, scope="api:read api:write")
    assert envoy.request("POST", "/api/items", {"authorization": f"Bearer {writer}"}, b"{}").status == 200
    assert envoy.get("/api/items", {"authorization": f"Bearer {dev}"}).status == 200, "reads need no scope"
    # gRPC: PERMISSION_DENIED (7), not UNAUTHENTICATED.
    assert grpc_status(envoy, "/admin.v1.Users/List", dev) == "7"
    assert grpc_status(envoy, "/admin.v1.Users/List", admin) is None
    stats = envoy.stats()
    assert stats["oidc_gate.denied.forbidden"] >= 4 and stats["oidc_gate.denied.insufficient_scope"] == 1


def test_a_public_path_serves_anyone_and_still_names_a_signed_in_user(rig):
    idp, envoy = authz_site(rig, user="alice")
    r = envoy.get("/public/docs", {"x-user-id": "mallory"})
    assert r.status == 200 and "x-user-id" not in r.json()["headers"], "anonymous, spoofed header removed"
    assert envoy.get("/public/docs", {"authorization": "Bearer forged.token.here"}).status == 200
    h = envoy.get("/public/docs", {"authorization": f"Bearer {token(idp, sub='svc-7')}"}).json()["headers"]
    assert h["x-user-id"] == "svc-7"
    b = Browser()
    assert b.follow(envoy.url + "/home")[-1].status == 200
    assert b.get(envoy.url + "/public/docs").json()["headers"]["x-user-id"] == "alice"
    assert envoy.stats()["oidc_gate.allowed.public"] >= 2


def test_outside_the_allowed_domains_a_person_gets_403_at_the_callback_and_no_session(rig):
    idp, envoy = authz_site(rig, user="bob", authorization={"allowed_email_domains": ["example.com"]})
    b = Browser()
    chain = b.follow(envoy.url + "/home")
    assert chain[-1].status == 403 and b"You do not have access" in chain[-1].body  # bob@example.org
    assert SESSION not in b.cookies()
    assert envoy.stats()["oidc_gate.login.failed"] == 1
