"""The identity providers users run, end to end: one real Envoy with one listener per IdP (its
sample config), in front of the echo upstream, against tests/idp/quirks.mjs, which answers as
each IdP documents. One test per quirk: the right person gets in with the right headers; the
wrong tenant, token kind or audience gets 401; logout goes where the IdP wants."""
import base64
import json
import shutil
import urllib.parse

import pytest

from rig.browser import Browser
from rig.procs import ROOT
from rig.quirks import G_ADMINS, G_DEV, NS_ROLES, TENANT_A, TENANT_B, MultiEnvoy, Quirks, configs

RUNS = ROOT / "tests" / ".runs" / "test_idps"
SESSION = "__Host-oidc_session"


@pytest.fixture(scope="module")
def idps(request, echo):
    shutil.rmtree(RUNS, ignore_errors=True)
    RUNS.mkdir(parents=True)
    q = Quirks(RUNS).start()
    envoy = None
    failed_before = request.session.testsfailed
    try:
        envoy = MultiEnvoy(RUNS, configs(q), q, echo).start()
        yield q, envoy
    finally:
        if request.session.testsfailed != failed_before:
            for proc in (envoy.proc if envoy else None, q.proc):
                if proc is not None:
                    print(f"\n===== {proc.name} log ({proc.log_path}) =====\n{proc.log()[-8000:]}")
        if envoy:
            envoy.stop()
        q.stop()


def login(envoy, name, path="/"):
    """A browser's whole login at `name`'s listener; returns (browser, redirect chain)."""
    b = Browser()
    chain = b.follow(f"{envoy.url(name)}{path}")
    return b, chain


def seen(chain):
    """The headers the upstream received on the last hop."""
    assert chain[-1].status == 200, [(r.status, r.url, r.body[:300]) for r in chain]
    return chain[-1].json()["headers"]


def bearer(envoy, name, token, path="/api/x"):
    return envoy.get(name, path, {"authorization": f"Bearer {token}"})


def claims_of(jwt):
    body = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def envoy_log(envoy):
    return envoy.proc.own_log()


def test_google_endpoints_on_four_hosts_bare_issuer_and_hd(idps):
    q, envoy = idps
    q.sign_in_as("google", "alice")
    before = q.stats()["requests"]
    _, chain = login(envoy, "google", "/docs")
    h = seen(chain)
    # The ID token says iss "127.0.0.1:<port>" (Google's bare form): accepted through issuer_aliases.
    assert (h["x-email"], h["x-hd"]) == ("alice@example.com", "example.com")
    assert h["x-name"] == "Alice Admin", "the name from userinfo, on its own host"
    authorize = urllib.parse.urlsplit(chain[0].headers["location"])
    assert dict(urllib.parse.parse_qsl(authorize.query))["hd"] == "example.com", "authorization_params"
    after = q.stats()["requests"]
    for role_path in ("google.oauth2 POST /token", "google.openidconnect GET /v1/userinfo"):
        assert after.get(role_path, 0) == before.get(role_path, 0) + 1, (role_path, after)
    assert after.get("google.www GET /oauth2/v3/certs", 0) >= 1
    # A consumer account (no hd) is refused at the callback by the hd rule: no session.
    q.sign_in_as("google", "gina")
    b, chain = login(envoy, "google", "/docs")
    assert chain[-1].status == 403, [(r.status, r.url) for r in chain]
    assert SESSION not in b.cookies()


def test_entra_templated_issuer_accepts_the_listed_tenant_only(idps):
    q, envoy = idps
    q.sign_in_as("entra", "adele")
    h = seen(login(envoy, "entra", "/admin")[1])
    assert (h["x-user"], h["x-tid"]) == ("adele@contoso.test", TENANT_A)
    assert h["x-groups"] == f"{G_ADMINS},{G_DEV}"
    q.sign_in_as("entra", "otto")  # tenant B: not in tenants
    b, chain = login(envoy, "entra", "/")
    assert chain[-1].status == 502 and SESSION not in b.cookies(), [(r.status, r.url) for r in chain]
    assert "ID token refused: unknown_issuer" in envoy_log(envoy)
    base = q.url("entra.login")
    v2 = lambda in_iss, **c: q.sign("entra", {"iss": f"{base}/{in_iss}/v2.0", "tid": in_iss, "sub": "s", "aud": "api://gate"} | c)  # noqa: E731
    assert bearer(envoy, "entra", v2(TENANT_A)).status == 200
    r = bearer(envoy, "entra", v2(TENANT_B))
    assert r.status == 401 and 'error="invalid_token"' in r.headers["www-authenticate"], r
    assert bearer(envoy, "entra", v2(TENANT_A, tid=TENANT_B)).status == 401, "iss filled with another tid"
    v1 = q.sign("entra", {"iss": f"https://sts.windows.net/{TENANT_A}/", "tid": TENANT_A, "sub": "s", "aud": "api://gate"})
    assert bearer(envoy, "entra", v1).status == 200, "v1 issuer through a {tenantid} alias"


def test_entra_templated_issuer_without_tenants_accepts_no_token_and_says_so_at_start(idps):
    q, envoy = idps
    issuer = f"{q.url('entra.login')}/organizations/v2.0"
    assert (f"oidc-gate-entra_no_tenants: oidc-gate: issuer {issuer} is multi-tenant ({{tenantid}}) and tenants is empty: "
            "it accepts no token") in envoy_log(envoy)
    token = q.sign("entra", {"iss": f"{q.url('entra.login')}/{TENANT_A}/v2.0", "tid": TENANT_A, "sub": "s", "aud": "api://gate"})
    assert bearer(envoy, "entra", token).status == 200
    r = bearer(envoy, "entra_no_tenants", token)
    assert r.status == 401 and "issuer is not trusted" in r.headers["www-authenticate"], r


def test_entra_groups_overage_denies_group_rules_with_a_reason_and_graph_resolves_it(idps):
    q, envoy = idps
    base = q.url("entra.login")
    over = q.sign("entra", {"iss": f"{base}/{TENANT_A}/v2.0", "tid": TENANT_A, "sub": "s", "aud": "api://gate",
                            "_claim_names": {"groups": "src1"},
                            "_claim_sources": {"src1": {"endpoint": "https://graph.windows.net/x/users/y/getMemberObjects"}}})
    r = bearer(envoy, "entra", over, "/admin/x")
    assert r.status == 403, r
    assert "denied: the token leaves its groups out (Entra ID groups overage" in envoy_log(envoy)
    r = bearer(envoy, "entra", over, "/api/x")
    assert r.status == 200 and "x-groups" not in r.json()["headers"], "the groups header says nothing"
    # A login without graph_url: a session, but a group rule refuses it.
    q.sign_in_as("entra", "olga")
    b, chain = login(envoy, "entra", "/")
    assert chain[-1].status == 200 and "x-groups" not in seen(chain)
    assert b.get(f"{envoy.url('entra')}/admin").status == 403
    # With graph_url: Microsoft Graph is asked once, at login, with the access token.
    graph_before = q.stats()["graph"].get("entra", 0)
    b, chain = login(envoy, "entra_graph", "/admin")
    groups = seen(chain)["x-groups"].split(",")
    assert len(groups) == 212 and G_ADMINS in groups
    assert q.stats()["graph"]["entra"] == graph_before + 1
    assert b.get(f"{envoy.url('entra_graph')}/admin/2").status == 200
    assert q.stats()["graph"]["entra"] == graph_before + 1, "read at login only"


def test_okta_custom_server_jwts_and_org_server_tokens_through_introspection(idps):
    q, envoy = idps
    custom = f"{q.url('okta')}/oauth2/default"
    at = lambda aud, **c: q.sign("okta-default", {"iss": custom, "sub": "00u1", "aud": aud, "cid": "gate", "scp": ["api"], **c})  # noqa: E731
    r = bearer(envoy, "okta", at("api://default", groups=["Everyone", "ops"]))
    assert r.status == 200 and r.json()["headers"]["x-groups"] == "Everyone,ops", r
    assert "x-groups" not in bearer(envoy, "okta", at("api://default")).json()["headers"], "no groups claim emitted"
    assert bearer(envoy, "okta", at("api://other")).status == 401
    before = q.stats()["requests"].get("okta POST /oauth2/v1/introspect", 0)
    org = q.okta_org_token()
    r = bearer(envoy, "okta", org)
    assert r.status == 200 and r.json()["headers"]["x-user"] == "olivia@example.com", r
    assert q.stats()["requests"]["okta POST /oauth2/v1/introspect"] == before + 1
    revoked = q.okta_org_token(sub="gone@example.com")
    q.okta_revoke(revoked)
    r = bearer(envoy, "okta", revoked)
    assert r.status == 401 and "not active" in r.headers["www-authenticate"], r


def test_auth0_audience_namespaced_roles_aud_array_and_v2_logout(idps):
    q, envoy = idps
    q.sign_in_as("auth0", "ann")
    b, chain = login(envoy, "auth0", "/admin")
    h = seen(chain)
    assert h["x-roles"] == "admin" and h["x-email"] == "ann@example.com"
    authorize = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(chain[0].headers["location"]).query))
    assert authorize["audience"] == "https://api.example.com"
    access = h["authorization"].removeprefix("Bearer ")
    assert access.count(".") == 2, "with an audience Auth0 issues a JWT access token"
    assert claims_of(access)["aud"] == ["https://api.example.com", f"{q.url('auth0')}/userinfo"]
    r = bearer(envoy, "auth0", access, "/admin/api")
    assert r.status == 200 and r.json()["headers"]["x-roles"] == "admin", "an aud array with the userinfo audience"
    # The namespaced name is one name: an object at "https://example" is not the roles claim.
    nested = q.sign("auth0", {"iss": f"{q.url('auth0')}/", "sub": "auth0|eve", "aud": "https://api.example.com",
                              "https://example": {"com/roles": ["admin"]}})
    assert bearer(envoy, "auth0", nested, "/admin/api").status == 403
    # No end_session_endpoint in discovery: logout goes to Auth0's /v2/logout.
    out = b.get(f"{envoy.url('auth0')}/oauth2/logout")
    back = urllib.parse.quote(f"{envoy.url('auth0')}/bye", safe="")
    assert out.headers["location"] == f"{q.url('auth0')}/v2/logout?client_id=gate&returnTo={back}", out
    q.sign_in_as("auth0", "ben")
    b, chain = login(envoy, "auth0", "/")
    assert seen(chain)["x-roles"] == "viewer"
    assert b.get(f"{envoy.url('auth0')}/admin").status == 403


def test_keycloak_realm_roles_and_typ(idps):
    q, envoy = idps
    q.sign_in_as("keycloak", "kim")
    b, chain = login(envoy, "keycloak", "/admin")
    assert seen(chain)["x-groups"] == "admin,user"
    q.sign_in_as("keycloak", "karl")
    b, chain = login(envoy, "keycloak", "/")
    assert seen(chain)["x-user"] == "karl"
    assert b.get(f"{envoy.url('keycloak')}/admin").status == 403
    realm = f"{q.url('keycloak')}/realms/demo"
    kc = lambda typ, aud: q.sign("keycloak", {"iss": realm, "sub": "f3b2-kim", "typ": typ, "aud": aud, "azp": "gate",  # noqa: E731
                                              "realm_access": {"roles": ["admin"]}})
    r = bearer(envoy, "keycloak", kc("Bearer", ["gate-api", "account"]), "/admin/x")
    assert r.status == 200 and r.json()["headers"]["x-groups"] == "admin"
    for typ, reason in (("ID", "An ID token is not an access token"), ("Refresh", "The token is not an access token")):
        r = bearer(envoy, "keycloak", kc(typ, "gate-api"))
        assert r.status == 401 and reason in r.headers["www-authenticate"], (typ, r)
    r = bearer(envoy, "keycloak", kc("Bearer", "account"))
    assert r.status == 401 and "not meant for this audience" in r.headers["www-authenticate"], r


def test_cognito_two_hosts_client_id_access_tokens_and_logout(idps):
    q, envoy = idps
    q.sign_in_as("cognito", "carl")
    b, chain = login(envoy, "cognito", "/")
    h = seen(chain)
    assert h["x-groups"] == "ops" and h["x-email"] == "carl@example.com"
    assert urllib.parse.urlsplit(chain[0].headers["location"]).port == q.ports["cognito.auth"], "the login domain"
    access = h["authorization"].removeprefix("Bearer ")
    assert "aud" not in claims_of(access) and claims_of(access)["token_use"] == "access"
    r = bearer(envoy, "cognito", access)
    assert r.status == 200 and r.json()["headers"]["x-groups"] == "ops", r
    issuer = f"{q.url('cognito.idp')}/us-east-1_Example"
    other = q.sign("cognito", {"iss": issuer, "sub": "x", "client_id": "other-app", "token_use": "access"})
    assert bearer(envoy, "cognito", other).status == 401
    id_token = q.sign("cognito", {"iss": issuer, "sub": "x", "aud": "gate", "token_use": "id"})
    r = bearer(envoy, "cognito", id_token)
    assert r.status == 401 and "An ID token is not an access token" in r.headers["www-authenticate"], r
    out = b.get(f"{envoy.url('cognito')}/oauth2/logout")
    back = urllib.parse.quote(f"{envoy.url('cognito')}/", safe="")
    assert out.headers["location"] == f"{q.url('cognito.auth')}/logout?client_id=gate&logout_uri={back}", out


def test_dex_groups_scope_federated_claims_and_issuer_path(idps):
    q, envoy = idps
    _, chain = login(envoy, "dex", "/pipelines")
    h = seen(chain)
    assert h["kubeflow-userid"] == "dana@example.com" and h["kubeflow-groups"] == "kubeflow:admins"
    assert (h["x-connector"], h["x-upstream-id"]) == ("github", "1234")
    scope = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(chain[0].headers["location"]).query))["scope"]
    assert {"groups", "federated:id"} <= set(scope.split())


def test_gitlab_groups_from_userinfo(idps):
    q, envoy = idps
    before = q.stats()["requests"].get("gitlab GET /oauth/userinfo", 0)
    b, chain = login(envoy, "gitlab", "/ops")
    h = seen(chain)
    assert h["x-groups"] == "acme,acme/dev,acme/ops", "userinfo's groups, not the ID token's groups_direct"
    assert q.stats()["requests"]["gitlab GET /oauth/userinfo"] == before + 1
