"""Sign in with GitHub end to end: the real Envoy with the built filter, and the GitHub-shaped
server of the rig (rig/github.py: GitHub's web flow with PKCE and the REST routes /user,
/user/emails, /user/orgs, /user/teams, answering as GitHub documents). GitHub has no discovery,
no ID token and no keys: nothing here serves any."""
import base64
import urllib.parse

import pytest

from rig.browser import Browser

KEY = base64.b64encode(bytes(range(32))).decode()
SESSION = "__Host-oidc_session"
API_HOST = "api.github.test"


def start(rig, github=None, enterprise=False, **overrides):
    gh = rig.github(api_prefix="/api/v3" if enterprise else None)
    gh_cfg = {"organizations": ["flipt-io"], "web_url": gh.url}
    if enterprise:
        gh_cfg["api_url"] = f"{gh.url}/api/v3"
        clusters = {}
    else:
        # github.com's API is another host: reached through the host -> cluster map.
        gh_cfg["api_url"] = f"http://{API_HOST}:{gh.port}"
        clusters = {"github_api": gh.port}
    gh_cfg.update(github or {})
    cfg = {
        "github": gh_cfg,
        "idp_cluster": "idp",
        "idp_clusters": {API_HOST: "github_api"},
        "client_id": gh.client_id,
        "client_secret": gh.client_secret,
        "session": {"keys": [KEY]},
        "identity_headers": {"x-user": "login", "x-user-id": "sub", "x-email": "email", "x-name": "name"},
        "groups_header": {"header": "x-groups"},
        "api_paths": [{"prefix": "/api/"}],
        **overrides,
    }
    envoy = rig.envoy(cfg, gh.port, start=False, clusters=clusters)
    gh.start(f"{envoy.url}/oauth2/callback")
    envoy.start()
    return gh, envoy


@pytest.mark.parametrize("enterprise", [False, True], ids=["github.com", "enterprise-server"])
def test_a_member_of_the_organisation_signs_in_and_the_upstream_sees_login_email_and_teams(rig, enterprise):
    gh, envoy = start(rig, enterprise=enterprise)
    gh.sign_in_as("octocat-member")
    b = Browser()
    chain = b.follow(f"{envoy.url}/flags?x=1", {"x-user": "mallory", "x_email": "spoof@evil.example"})
    first = chain[0]
    auth = urllib.parse.urlsplit(first.headers["location"])
    q = dict(urllib.parse.parse_qsl(auth.query))
    assert f"{auth.scheme}://{auth.netloc}{auth.path}" == f"{gh.url}/login/oauth/authorize"
    assert q["scope"] == "read:user user:email read:org" and q["code_challenge_method"] == "S256"
    assert "nonce" in q and len(q["state"]) >= 43
    assert chain[-1].status == 200, [(r.status, r.url, r.body[:200]) for r in chain]
    assert chain[-1].url == f"{envoy.url}/flags?x=1"
    h = chain[-1].json()["headers"]
    assert h["x-user"] == "octocat-member" and h["x-name"] == "Mona Member"
    assert h["x-user-id"] == "1001", "the account id: logins can be renamed and taken"
    assert h["x-email"] == "mona@flipt.example", "the verified primary address, not /user's null email"
    assert h["x-groups"] == "flipt-io,flipt-io/maintainers,other-org,other-org/readers"
    assert "x_email" not in h
    assert SESSION in b.cookies()
    # What the filter called at GitHub, and that it never looked for OpenID Connect.
    paths = gh.stats()["paths"]
    prefix = "/api/v3" if enterprise else ""
    for p in ("/login/oauth/access_token", f"{prefix}/user", f"{prefix}/user/emails", f"{prefix}/user/orgs",
              f"{prefix}/user/teams"):
        assert paths.get(p) == 1, paths
    assert not any("well-known" in p or "jwks" in p for p in paths), paths
    sent = gh.stats()["last"]["api"]
    assert sent["user-agent"] == "oidc-gate" and sent["x-github-api-version"] == "2022-11-28", sent
    # The cookie alone is enough from now on: no GitHub call per request.
    before = sum(gh.stats()["routes"].values())
    for i in range(3):
        assert b.get(f"{envoy.url}/flags/{i}").json()["headers"]["x-user"] == "octocat-member"
    assert sum(gh.stats()["routes"].values()) == before
    stats = envoy.stats()
    assert stats["oidc_gate.login.completed"] == 1
    assert stats.get("oidc_gate.idp.discovery_fetch", 0) == 0


def test_a_non_member_gets_403_and_no_session(rig):
    gh, envoy = start(rig)
    gh.sign_in_as("outsider")  # member of some-other-org, whose team is also called "maintainers"
    b = Browser()
    chain = b.follow(f"{envoy.url}/flags")
    last = chain[-1]
    assert last.status == 403, [(r.status, r.url) for r in chain]
    assert b"You do not have access" in last.body, last.body[:400]
    assert SESSION not in b.cookies()
    assert envoy.stats()["oidc_gate.login.failed"] == 1


def test_a_team_restriction_refuses_the_same_slug_in_another_organisation(rig):
    gh, envoy = start(rig, github={"organizations": [], "teams": ["flipt-io/maintainers"]})
    gh.sign_in_as("outsider")
    assert Browser().follow(f"{envoy.url}/flags")[-1].status == 403
    gh.sign_in_as("octocat-member")
    b = Browser()
    last = b.follow(f"{envoy.url}/flags")[-1]
    assert last.status == 200 and last.json()["headers"]["x-user"] == "octocat-member"


def test_github_refusing_the_code_fails_the_login_and_api_clients_get_401(rig):
    gh, envoy = start(rig)
    gh.sign_in_as("octocat-member")
    r = Browser().get(f"{envoy.url}/api/flags", {"accept": "application/json", "sec-fetch-mode": "cors"})
    assert r.status == 401
    # A replayed callback: GitHub answers bad_verification_code (in a 200), the login fails.
    b = Browser()
    location = b.follow_until(f"{envoy.url}/flags", lambda u: "/oauth2/callback" in u)
    b2 = Browser()
    for name, value in b.cookies().items():
        if "_flow_" in name:
            b2.set_cookie(name, value)
    assert b.get(location).status == 302
    again = b2.get(location)
    assert again.status == 502 and b"bad_verification_code" in again.body, again
    assert SESSION not in b2.cookies()
