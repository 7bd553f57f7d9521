"""Browser login end to end: the real Envoy with the built filter, the real OpenID
provider (auto-login of a test user), and a cookie jar that behaves like a browser."""
import base64
import json
import re
import time
import urllib.parse

import pytest

from rig.browser import Browser
from rig.harness import request

KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = base64.b64encode(bytes(range(100, 132))).decode()
SESSION = "__Host-oidc_session"


def login_config(idp, **overrides):
    cfg = {
        "issuer": idp.issuer,
        "idp_cluster": "idp",
        "client_id": "web",
        "client_secret": "test-secret",
        "scopes": ["openid", "email", "profile", "groups"],
        "identity_headers": {"x-user-id": "sub", "x-user-email": "email", "x-user-groups": "groups", "x-user-name": "name"},
        "session": {"keys": [KEY_A]},
        "api_paths": [{"prefix": "/api/"}],
        "bypass": [{"prefix": "/healthz"}],
        "bearer": {"audiences": ["api://orders"]},
    }
    for k, v in overrides.items():
        cfg[k] = v
    return cfg


def start_site(rig, idp_extra=(), normalize=True, idp=None, **overrides):
    idp = idp or rig.idp()
    envoy = rig.envoy(login_config(idp, **overrides), idp.port, start=False, normalize=normalize)
    idp.extra += ["--redirect-uri", f"{envoy.url}/oauth2/callback", "--post-logout-uri", f"{envoy.url}/", *idp_extra]
    if idp.proc is None:
        idp.start()
    envoy.start()
    return idp, envoy


def login(browser, envoy, path="/some/page?x=1"):
    chain = browser.follow(envoy.url + path)
    assert chain[-1].status == 200, [(r.status, r.url, r.body[:200]) for r in chain]
    return chain


@pytest.fixture
def site(rig):
    return start_site(rig)


def test_login_lands_on_the_original_page_with_identity(site):
    idp, envoy = site
    b = Browser()
    chain = login(b, envoy)
    first = chain[0]
    assert first.status == 302
    auth = urllib.parse.urlsplit(first.headers["location"])
    q = dict(urllib.parse.parse_qsl(auth.query))
    assert f"{auth.scheme}://{auth.netloc}" == idp.issuer and auth.path == "/auth"
    assert q["response_type"] == "code" and q["client_id"] == "web"
    assert q["redirect_uri"] == f"{envoy.url}/oauth2/callback"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert q["scope"] == "openid email profile groups"
    assert len(q["state"]) >= 43 and len(q["nonce"]) >= 43
    flow_cookie = next(v for k, v in first.all_headers if k == "set-cookie")
    assert flow_cookie.startswith(f"{SESSION}_flow_") and "HttpOnly" in flow_cookie and "Secure" in flow_cookie
    assert "SameSite=Lax" in flow_cookie and "Path=/" in flow_cookie and "Max-Age=600" in flow_cookie

    callback = next(r for r in chain if r.url.startswith(f"{envoy.url}/oauth2/callback"))
    assert callback.status == 302 and callback.headers["location"] == "/some/page?x=1"
    cookies = [v for k, v in callback.all_headers if k == "set-cookie"]
    session_cookie = next(c for c in cookies if c.startswith(f"{SESSION}="))
    for flag in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/"):
        assert flag in session_cookie
    assert any(c.startswith(f"{SESSION}_flow_") and "Max-Age=0" in c for c in cookies), "flow cookie cleared"

    last = chain[-1]
    assert last.url == f"{envoy.url}/some/page?x=1"
    seen = last.json()
    assert seen["path"] == "/some/page?x=1"
    h = seen["headers"]
    assert h["x-user-id"] == "alice" and h["x-user-email"] == "alice@example.com"
    assert h["x-user-groups"] == "admins,dev" and h["x-user-name"] == "Alice Example"
    assert SESSION not in h.get("cookie", ""), "the filter's cookies never reach the app"

    # From now on the cookie alone is enough: no IdP call at all.
    before = idp.stats()["interactive"]
    for i in range(5):
        r = b.get(f"{envoy.url}/other/{i}", {"x-user-id": "mallory"})
        assert r.status == 200 and r.json()["headers"]["x-user-id"] == "alice"
    assert idp.stats()["interactive"] == before
    stats = envoy.stats()
    assert stats["oidc_gate.login.completed"] == 1 and stats["oidc_gate.allowed.session"] >= 6


def test_two_logins_in_parallel_both_finish(site):
    _, envoy = site
    b = Browser()
    first = b.get(envoy.url + "/tab/one")
    second = b.get(envoy.url + "/tab/two")
    assert first.status == second.status == 302
    flows = [k for k in b.cookies() if k.startswith(f"{SESSION}_flow_")]
    assert len(flows) == 2
    # Finish the second tab first, then the first.
    for resp, want in ((second, "/tab/two"), (first, "/tab/one")):
        chain = b.follow(resp.headers["location"])
        assert chain[-1].status == 200, [(r.status, r.url) for r in chain]
        assert chain[-1].json()["path"] == want
    assert not [k for k in b.cookies() if k.startswith(f"{SESSION}_flow_")]


def test_pending_flow_cookies_are_capped(site):
    _, envoy = site
    b = Browser()
    for i in range(10):
        assert b.get(f"{envoy.url}/tab/{i}").status == 302
    assert len([k for k in b.cookies() if k.startswith(f"{SESSION}_flow_")]) == 4


def _start(b, envoy, path="/start"):
    r = b.get(envoy.url + path)
    assert r.status == 302
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers["location"]).query))
    return r, q


def _no_session(b):
    return SESSION not in b.cookies() and not any(k.startswith(f"{SESSION}_") and "flow" not in k for k in b.cookies())


def test_forged_state_missing_flow_cookie_and_replayed_code_never_give_a_session(site):
    idp, envoy = site
    b = Browser()
    _, q = _start(b, envoy)
    forged = "A" * 43
    r = b.get(f"{envoy.url}/oauth2/callback?code=abc&state={forged}&iss={urllib.parse.quote(idp.issuer)}")
    assert r.status == 400 and b"no longer valid" in r.body
    assert r.headers["content-type"].startswith("text/html")
    # The real state, but this browser lost its flow cookie.
    callback_url = b.follow_until(_start(b, envoy)[0].headers["location"], lambda u: "/oauth2/callback?" in u)
    stranger = Browser()
    r = stranger.get(callback_url)
    assert r.status == 400 and _no_session(stranger)
    # The rightful browser completes; replaying the code afterwards fails at the IdP.
    flow_cookies = {k: v for k, v in b.cookies().items() if k.startswith(f"{SESSION}_flow_")}
    r = b.get(callback_url)
    assert r.status == 302 and SESSION in b.cookies()
    replay = Browser()
    for k, v in flow_cookies.items():
        replay.set_cookie(k, v)
    r = replay.get(callback_url)
    assert r.status == 502 and b"Sign-in failed" in r.body, r
    assert b"invalid_grant" in r.body
    assert SESSION not in replay.cookies()
    assert envoy.stats()["oidc_gate.login.failed"] >= 3


@pytest.mark.parametrize("override,reason", [
    ({"nonce": "not-the-one"}, "login failed: ID token nonce does not match the login"),
    ({"aud": "someone-else"}, "login failed: ID token refused: wrong_audience"),
    ({"iss": "https://evil.example"}, "login failed: ID token refused: unknown_issuer"),
])
def test_a_lying_idp_gets_no_session(rig, override, reason):
    idp, envoy = start_site(rig)
    urllib_post = __import__("urllib.request").request
    urllib_post.urlopen(urllib_post.Request(idp.issuer + "/__test/misbehave", data=json.dumps({"id_token": override}).encode(), method="POST"))
    b = Browser()
    chain = b.follow(envoy.url + "/page")
    assert chain[-1].status == 502 and b"Sign-in failed" in chain[-1].body
    assert SESSION not in b.cookies()
    assert reason in envoy.proc.log()


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "//evil.example/%2F..", "/%5Cevil.example"])
def test_return_targets_never_leave_the_site(rig, target):
    _, envoy = start_site(rig, normalize=False)
    b = Browser()
    chain = b.follow(envoy.url + target)
    for r in chain:
        loc = r.headers.get("location", "")
        assert not re.match(r"^(https?:)?[/\\]{2}evil", loc) and not loc.startswith("/\\"), (r.url, loc)
    callback = next(r for r in chain if "/oauth2/callback" in r.url)
    assert callback.headers["location"] in ("/", target) and not callback.headers["location"].startswith(("//", "/\\"))


def test_a_callback_query_of_ten_thousand_parameters_is_refused_whole(site):
    """`?0&1&...&9999` (about 49 KB) once cost a duplicate check against every earlier
    parameter on the worker; now more than 64 parameters are refused without a look."""
    _, envoy = site
    b = Browser()
    assert b.get(envoy.url + "/page").status == 302  # the IdP's keys are loaded
    query = "&".join(str(i) for i in range(10_000))
    assert len(query) > 48_000
    r = b.get(f"{envoy.url}/oauth2/callback?{query}")
    assert r.status == 400 and b"no longer valid" in r.body
    assert "login failed: callback query is malformed" in envoy.proc.log()
    # The worker is still there and serving.
    assert b.get(envoy.url + "/healthz").status == 200


def test_the_sign_in_unavailable_page_never_links_off_site(rig):
    idp = rig.idp()
    envoy = rig.envoy(login_config(idp, startup_wait="1s"), idp.port, normalize=False)  # the IdP never starts
    r = Browser().get(envoy.url + "//evil.example/")
    assert r.status == 503 and b"Sign-in is unavailable" in r.body
    assert b'<a href="/">Start again</a>' in r.body and b"evil.example" not in r.body


def test_absolute_form_request_to_another_host_is_refused_by_the_idp(rig):
    idp, envoy = start_site(rig)
    r = request(envoy.port, "GET", "https://evil.example/", {"accept": "text/html", "sec-fetch-mode": "navigate"})
    assert r.status == 302
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers["location"]).query))
    assert r.headers["location"].startswith(idp.issuer)
    # The redirect_uri names the spoofed host, which the IdP does not accept.
    b = Browser()
    chain = b.follow(r.headers["location"])
    assert chain[-1].status == 400 and not chain[-1].url.startswith("https://evil")
    assert "evil.example" in q["redirect_uri"]


def test_bad_sessions_mean_a_new_login_a_401_or_a_page(site):
    """Tampered, truncated, garbage or empty cookies count as no session. (Expiry by
    lifetime and idle timeout is proven in the core with pinned time: gate/tests.rs.)"""
    _, envoy = site
    b = Browser()
    login(b, envoy)
    value = b.cookies()[SESSION]
    tampered = value[:30] + ("A" if value[30] != "A" else "B") + value[31:]
    for bad in (tampered, value[:-20], "garbage", ""):
        b.set_cookie(SESSION, bad)
        assert b.get(envoy.url + "/page").status == 302
        api = b.get(envoy.url + "/api/items", {"accept": "application/json", "sec-fetch-mode": "cors"})
        assert api.status == 401 and api.json()["error"] == "unauthenticated"
    # A form posted with a session that no longer opens cannot be redirected: a page says so.
    form_post = b.request("POST", envoy.url + "/form", {"content-type": "application/x-www-form-urlencoded"}, b"a=1")
    assert form_post.status == 401 and b"session has expired" in form_post.body
    b.set_cookie(SESSION, value)
    assert b.get(envoy.url + "/page").status == 200
    assert envoy.stats()["oidc_gate.session.invalid"] >= 5


def test_key_rotation_keeps_old_sessions_until_the_old_key_is_removed(rig):
    idp, first = start_site(rig)
    b = Browser()
    login(b, first)
    first.stop()
    rotated = rig.envoy(login_config(idp, session={"keys": [KEY_B, KEY_A]}), idp.port, name="envoy-rotated")
    before = idp.stats()["interactive"]
    r = b.get(rotated.url + "/page")
    assert r.status == 200 and r.json()["headers"]["x-user-id"] == "alice"
    assert idp.stats()["interactive"] == before
    rotated.stop()
    removed = rig.envoy(login_config(idp, session={"keys": [KEY_B]}), idp.port, name="envoy-old-key-removed")
    assert b.get(removed.url + "/page").status == 302
    # The same cookie, now sealed by a key this Envoy does not have, on an API call: 401.
    api = b.get(removed.url + "/api/items", {"accept": "application/json", "sec-fetch-mode": "cors"})
    assert api.status == 401 and api.json()["error"] == "unauthenticated"
    assert removed.stats()["oidc_gate.session.invalid"] >= 2


def test_a_session_larger_than_a_cookie_is_chunked(rig):
    _, envoy = start_site(rig, idp_extra=["--auto-user", "carol"])
    b = Browser()
    chain = login(b, envoy)
    callback = next(r for r in chain if "/oauth2/callback" in r.url)
    chunks = [v for k, v in callback.all_headers if k == "set-cookie" and v.startswith(f"{SESSION}_") and "flow" not in v.split("=")[0]]
    assert len(chunks) >= 2, [c[:40] for c in chunks]
    assert all(len(c) < 4096 for c in chunks)
    groups = chain[-1].json()["headers"]["x-user-groups"].split(",")
    assert len(groups) == 250 and groups[0] == "team-000-members"
    r = b.get(envoy.url + "/again")
    assert r.status == 200 and r.json()["headers"]["x-user-id"] == "carol"
    assert SESSION not in r.json()["headers"].get("cookie", "")


def test_claims_missing_from_the_id_token_come_from_userinfo(rig):
    _, envoy = start_site(rig, idp_extra=["--id-token-claims", "minimal"])
    b = Browser()
    h = login(b, envoy)[-1].json()["headers"]
    assert h["x-user-id"] == "alice" and h["x-user-email"] == "alice@example.com" and h["x-user-groups"] == "admins,dev"


def test_logout_goes_through_the_idp_and_the_next_request_needs_a_login(site):
    idp, envoy = site
    b = Browser()
    login(b, envoy)
    r = b.get(envoy.url + "/oauth2/logout")
    assert r.status == 302
    end = urllib.parse.urlsplit(r.headers["location"])
    q = dict(urllib.parse.parse_qsl(end.query))
    assert f"{end.scheme}://{end.netloc}{end.path}" == f"{idp.issuer}/session/end"
    assert q["client_id"] == "web" and q["post_logout_redirect_uri"] == f"{envoy.url}/" and q["id_token_hint"].count(".") == 2
    assert SESSION not in b.cookies()
    # The ID token that the logout URL carries cannot be used as an API credential.
    r_api = request(envoy.port, "GET", "/api/orders", {"authorization": f"Bearer {q['id_token_hint']}"})
    assert r_api.status == 401 and 'error_description="An ID token is not an access token"' in r_api.headers["www-authenticate"]
    # The IdP asks to confirm (its page submits by script); post the form as a browser would.
    page = b.get(r.headers["location"])
    assert page.status == 200
    action = re.search(rb'action="([^"]+)"', page.body).group(1).decode()
    xsrf = re.search(rb'name="xsrf" value="([^"]+)"', page.body).group(1).decode()
    done = b.request("POST", urllib.parse.urljoin(idp.issuer, action), {"content-type": "application/x-www-form-urlencoded"},
                     urllib.parse.urlencode({"xsrf": xsrf, "logout": "yes"}).encode())
    assert done.status in (302, 303)
    back = b.follow_until(urllib.parse.urljoin(idp.issuer, done.headers["location"]), lambda u: u.startswith(envoy.url)) \
        if not done.headers["location"].startswith(envoy.url) else done.headers["location"]
    assert back == f"{envoy.url}/"
    # Back on the site, signed out: the next page needs a login.
    r = b.get(envoy.url + "/page")
    assert r.status == 302 and r.headers["location"].startswith(idp.issuer + "/auth")
    assert envoy.stats()["oidc_gate.logout"] == 1


def test_a_cross_site_logout_link_only_shows_a_confirmation(site):
    _, envoy = site
    b = Browser()
    login(b, envoy)
    r = b.get(envoy.url + "/oauth2/logout", {"sec-fetch-site": "cross-site"})
    assert r.status == 200 and b"Sign out?" in r.body and b'method="post"' in r.body
    assert not [v for k, v in r.all_headers if k == "set-cookie"]
    assert b.get(envoy.url + "/still-signed-in").status == 200
    # The page's own button posts from this origin, and that signs out.
    r = b.request("POST", envoy.url + "/oauth2/logout", {"sec-fetch-site": "same-origin"}, b"")
    assert r.status == 302 and SESSION not in b.cookies()


def test_api_xhr_and_grpc_get_401_never_a_redirect(site):
    _, envoy = site
    b = Browser()
    cases = [
        ("/api/items", {"accept": "text/html", "sec-fetch-mode": "navigate"}),
        ("/page", {"accept": "application/json", "sec-fetch-mode": "cors"}),
        ("/page", {"accept": "text/html", "sec-fetch-mode": "navigate", "x-requested-with": "XMLHttpRequest"}),
        ("/page", {"accept": "*/*", "sec-fetch-mode": "no-cors"}),
    ]
    for path, headers in cases:
        r = b.get(envoy.url + path, headers)
        assert r.status == 401, (path, headers, r)
        assert r.headers["www-authenticate"].startswith("Bearer realm=") and r.json()["error"] == "unauthenticated"
    g = request(envoy.port, "POST", "/pkg.Svc/Call", {"content-type": "application/grpc", "te": "trailers"}, b"\0\0\0\0\0")
    assert g.headers.get("grpc-status") == "16" and "location" not in g.headers


def test_idp_error_response_shows_a_clear_page(site):
    idp, envoy = site
    b = Browser()
    _, q = _start(b, envoy)
    r = b.get(f"{envoy.url}/oauth2/callback?error=access_denied&error_description=nope&state={q['state']}&iss={urllib.parse.quote(idp.issuer)}")
    assert r.status == 403 and b"access_denied" in r.body and b"Sign-in was not completed" in r.body
    assert _no_session(b)


def test_bearer_tokens_keep_working_beside_sessions(site):
    idp, envoy = site
    r = request(envoy.port, "GET", "/api/orders", {"authorization": f"Bearer {idp.client_credentials()}"})
    assert r.status == 200 and r.json()["headers"]["x-user-id"] == "service"


def test_idp_down_shows_a_page_then_login_works_once_it_is_back(rig):
    idp = rig.idp()
    envoy = rig.envoy(login_config(idp, startup_wait="1s"), idp.port, start=False)
    idp.extra += ["--redirect-uri", f"{envoy.url}/oauth2/callback"]
    envoy.start()  # the IdP is not running yet
    b = Browser()
    r = b.get(envoy.url + "/page")
    assert r.status == 503 and b"Sign-in is unavailable" in r.body and r.headers["content-type"].startswith("text/html")
    assert b"Request id:" in r.body
    api = b.get(envoy.url + "/api/x", {"accept": "application/json", "sec-fetch-mode": "cors"})
    assert api.status == 401, "no credentials: 401 whatever the IdP's state"
    idp.start()
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        r = b.get(envoy.url + "/page")
        if r.status == 302:
            break
        assert r.status == 503
        time.sleep(0.5)
    assert r.status == 302
    assert login(b, envoy, "/page")[-1].json()["headers"]["x-user-id"] == "alice"


def test_an_active_session_is_extended_by_a_reissued_cookie(rig):
    """A quarter into the idle window, the upstream's response carries a re-issued session
    cookie and is marked no-store. (The idle and lifetime limits themselves are proven in
    the core with pinned time: gate/tests.rs.)"""
    _, envoy = start_site(rig, session={"keys": [KEY_A], "idle_timeout": "4s"})
    b = Browser()
    login(b, envoy)
    first = b.cookies()[SESSION]
    time.sleep(1.3)  # past a quarter of the idle window
    r = b.get(envoy.url + "/busy")
    assert r.status == 200
    reissued = [v for k, v in r.all_headers if k == "set-cookie" and v.startswith(f"{SESSION}=")]
    assert len(reissued) == 1 and r.headers["cache-control"] == "no-store"
    assert b.cookies()[SESSION] != first
    assert b.get(envoy.url + "/busy").status == 200


def test_a_callback_right_after_envoy_starts_completes_the_login(site):
    """The callback waits for the IdP's discovery and keys like any request: a login whose
    browser comes back while Envoy is (re)starting still signs the person in."""
    idp, envoy = site
    b = Browser()
    callback_url = b.follow_until(envoy.url + "/reports?year=2026", lambda u: "/oauth2/callback?" in u)
    envoy.stop()
    envoy.start(wait=False)
    envoy.wait_ready()
    started = time.monotonic()
    r = b.get(callback_url)  # within a few ms of ready: discovery and JWKS are still loading
    assert time.monotonic() - started < 5
    assert r.status == 302 and r.headers["location"] == "/reports?year=2026", r
    assert SESSION in b.cookies()
    assert b.get(envoy.url + "/reports?year=2026").json()["headers"]["x-user-id"] == "alice"


def test_the_first_login_after_the_idp_rotates_its_keys_succeeds(site):
    """An ID token signed by a key the gate has not fetched yet triggers an immediate JWKS
    re-fetch (not held back by jwks_refetch_min_interval), and the callback waits for it."""
    idp, envoy = site
    login(Browser(), envoy)
    old_kids = idp.kids()
    idp.rotate_keys()
    assert not set(old_kids) & set(idp.kids())
    before = envoy.stats()["oidc_gate.idp.jwks_fetch"]
    b = Browser()
    chain = b.follow(envoy.url + "/after-rotation")
    assert [r.status for r in chain if r.status >= 400] == [], [(r.status, r.url) for r in chain]
    assert chain[-1].status == 200 and chain[-1].json()["headers"]["x-user-id"] == "alice"
    assert envoy.stats()["oidc_gate.idp.jwks_fetch"] == before + 1
    assert "login failed" not in envoy.proc.log()


def test_a_header_sent_on_two_lines_never_hides_a_credential_from_the_filter(rig):
    """Envoy keeps each HTTP/1 line of a header it does not know (Cookie, flyte-authorization)
    as its own entry, and apps read every line: the session cookie on a second Cookie line is
    stripped (it was passed upstream behind a ','), and a token header sent twice is refused
    (beside a session, an unchecked token on its second line went upstream)."""
    idp, envoy = start_site(rig, bearer={"audiences": ["api://orders"], "token_headers": ["flyte-authorization"]})
    b = Browser()
    login(b, envoy)
    session = f"{SESSION}={b.cookies()[SESSION]}"
    token = f"Bearer {idp.client_credentials()}"
    for path, lines in (("/healthz", []), ("/api/orders", [("authorization", token)]), ("/page", [])):
        for cookies in ([("cookie", "a=1"), ("cookie", session)], [("cookie", session), ("cookie", "a=1")]):
            r = request(envoy.port, "GET", path, lines + cookies)
            assert r.status == 200 and r.json()["headers"]["cookie"] == "a=1", (path, cookies[0], r)
    forged = "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."
    for first in ("x", ""):
        r = request(envoy.port, "GET", "/page", [("cookie", session), ("flyte-authorization", first),
                                                 ("flyte-authorization", forged)])
        assert r.status == 401 and 'error="invalid_token"' in r.headers["www-authenticate"], (first, r)
    # Authorization's lines Envoy folds with ',': a Bearer on the second is refused too.
    r = request(envoy.port, "GET", "/page", [("cookie", session), ("authorization", "Basic eA=="),
                                             ("authorization", forged)])
    assert r.status == 401 and 'error="invalid_token"' in r.headers["www-authenticate"], r
