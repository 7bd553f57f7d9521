"""Sessions that outlive short access tokens, end to end: the real Envoy renews a stale
session inline with the real IdP's refresh grant, once per Envoy for concurrent requests
(also across two workers), with refresh-token rotation, ends it when the IdP revokes the
grant, and keeps serving it while the IdP fails."""
import threading
import time


from rig.browser import Browser
from rig.harness import request
from test_login import KEY_A, SESSION, login, login_config


def refresh_site(rig, idp_flags=(), concurrency=1, **overrides):
    idp = rig.idp()
    cfg = login_config(idp, session={"keys": [KEY_A], "refresh": True, "refresh_margin": "30s"},
                       forward_access_token=True, forward_id_token={"header": "x-id-token"}, idp_timeout="1s",
                       **overrides)
    envoy = rig.envoy(cfg, idp.port, start=False, concurrency=concurrency)
    # Access tokens live 10 s, within refresh_margin (30 s): every request with a cookie
    # older than its last refresh finds the session due, so no test has to sleep.
    idp.extra += ["--redirect-uri", f"{envoy.url}/oauth2/callback", "--refresh-tokens", "--access-token-ttl", "10",
                  *idp_flags]
    idp.start()
    envoy.start()
    return idp, envoy


def refreshes(idp):
    return idp.stats()["token"]["refresh_token"]


def test_a_stale_session_is_refreshed_inline_and_forwards_live_tokens(rig):
    idp, envoy = refresh_site(rig)
    b = Browser()
    login(b, envoy)
    first = b.cookies()[SESSION]
    before = refreshes(idp)
    r = b.get(envoy.url + "/page", {"authorization": "Basic c3Bvb2Y6ZWQ="})
    assert r.status == 200, r
    assert refreshes(idp) == before + 1
    assert [v for k, v in r.all_headers if k == "set-cookie" and v.startswith(f"{SESSION}")], "a renewed cookie"
    assert b.cookies()[SESSION] != first
    h = r.json()["headers"]
    access = h["authorization"].removeprefix("Bearer ")
    assert h["authorization"].startswith("Bearer ") and idp.introspect(access)["active"] is True
    assert h["x-id-token"].count(".") == 2 and h["x-user-id"] == "alice"
    assert envoy.stats()["oidc_gate.session.refreshed"] >= 1


def test_twenty_concurrent_requests_with_one_stale_cookie_on_two_workers_cause_one_refresh(rig):
    idp, envoy = refresh_site(rig, concurrency=2)
    b = Browser()
    login(b, envoy)
    cookie = "; ".join(f"{k}={v}" for k, v in b.cookies().items())
    before = refreshes(idp)
    statuses = []

    def call():
        # A fresh connection each: Envoy spreads them over its two workers.
        statuses.append(request(envoy.port, "GET", "/page", {"cookie": cookie, "accept": "text/html"}).status)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 20
    assert refreshes(idp) == before + 1


def test_a_session_refreshed_three_times_with_rotation_still_works(rig):
    idp, envoy = refresh_site(rig, idp_flags=["--rotate-refresh-tokens"])
    b = Browser()
    login(b, envoy)
    before = refreshes(idp)
    for _ in range(3):
        r = b.get(envoy.url + "/page")
        assert r.status == 200, r  # each renewed session is due again (10 s tokens, 30 s margin)
    assert refreshes(idp) == before + 3
    assert idp.stats()["invalid_grant"] == 0
    assert b.get(envoy.url + "/page").status == 200


def test_invalid_grant_ends_the_session(rig):
    idp, envoy = refresh_site(rig)
    b = Browser()
    login(b, envoy)
    idp.revoke_grant(sub="alice")
    api = b.get(envoy.url + "/api/items", {"accept": "application/json", "sec-fetch-mode": "cors"})
    assert api.status == 401 and api.json()["error"] == "unauthenticated"
    assert SESSION not in b.cookies(), "the session cookie is cleared"
    assert envoy.stats()["oidc_gate.session.ended"] == 1


def test_an_idp_that_fails_never_ends_a_session_which_is_refreshed_once_it_is_back(rig):
    idp, envoy = refresh_site(rig)
    b = Browser()
    login(b, envoy)
    idp.fault(paths=["/token"], status=500)
    before = refreshes(idp)
    for _ in range(3):
        r = b.get(envoy.url + "/page")
        assert r.status == 200 and r.json()["headers"]["x-user-id"] == "alice", r
    assert envoy.stats()["oidc_gate.session.refresh_failed"] >= 1
    idp.fault()  # back
    deadline = time.monotonic() + 10
    while refreshes(idp) == before:
        assert time.monotonic() < deadline, "no refresh after the IdP came back"
        assert b.get(envoy.url + "/page").status == 200
        time.sleep(0.5)
    assert envoy.stats()["oidc_gate.session.refreshed"] >= 1


def test_with_the_idp_stopped_a_stale_session_is_served_and_refreshed_once_it_is_back(rig):
    """The IdP's process is stopped (SIGSTOP: it accepts connections and never answers):
    the refresh times out (idp_timeout 1s) and the session is served; once the IdP runs
    again, the next due request refreshes it."""
    import os
    import signal
    idp, envoy = refresh_site(rig)
    b = Browser()
    login(b, envoy)
    before = refreshes(idp)
    os.kill(idp.proc.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        r = b.get(envoy.url + "/page")
        assert r.status == 200 and r.json()["headers"]["x-user-id"] == "alice", r
        assert time.monotonic() - started < 4, "bounded by idp_timeout"
        assert b.get(envoy.url + "/page").status == 200, "within the back-off: no wait at all"
    finally:
        os.kill(idp.proc.pid, signal.SIGCONT)
    deadline = time.monotonic() + 10
    while refreshes(idp) <= before + 1:  # the timed-out call is answered late and counted too
        assert time.monotonic() < deadline, "no refresh after the IdP came back"
        assert b.get(envoy.url + "/page").status == 200
        time.sleep(0.5)
    assert envoy.stats()["oidc_gate.session.refresh_failed"] >= 1
