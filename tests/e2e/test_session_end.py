"""What the IdP says about a session, end to end against one shared site (the real IdP, a
real Envoy with two workers): back-channel logout (OpenID Connect Back-Channel Logout 1.0)
ends a session on every worker, a replayed or badly signed logout token ends nothing; and
step-up per route (acr_values, max_age) sends a session back to the IdP, or gives an API
client RFC 9470's 401."""
import json
import re
import subprocess
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import Rig
from rig.browser import Browser
from rig.harness import request
from test_login import SESSION, login, login_config

BACKCHANNEL = "/oauth2/backchannel-logout"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
REVOKED = "session ended: a back-channel logout revoked it"
API = {"accept": "application/json", "sec-fetch-mode": "cors"}


@pytest.fixture(scope="module")
def site(echo, request):
    rig = Rig.fresh("test_session_end", echo)
    idp = rig.idp()
    cfg = login_config(idp, backchannel_logout_path=BACKCHANNEL, authorization={"rules": [
        {"path": {"prefix": "/billing"}, "acr_values": ["mfa"], "max_age": "15m"}]})
    envoy = rig.envoy(cfg, idp.port, start=False, concurrency=2)
    idp.extra += ["--redirect-uri", f"{envoy.url}/oauth2/callback", "--post-logout-uri", f"{envoy.url}/",
                  "--backchannel-logout-uri", f"{envoy.url}{BACKCHANNEL}"]
    idp.start()
    envoy.start()
    yield idp, envoy
    rig.stop(print_logs=request.session.testsfailed > 0)


def session_cookie(b: Browser) -> str:
    return "; ".join(f"{k}={v}" for k, v in b.cookies().items() if k.startswith(SESSION))


def spread(envoy, cookie, n=40):
    """`n` API requests with the session, each on a fresh connection (so both workers
    serve some), 8 at a time; their statuses."""
    def one(_):
        return request(envoy.port, "GET", "/api/items", {"cookie": cookie, **API}).status
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(n)))


def worker_threads(envoy, text):
    """The Envoy threads (by id, from its log lines) that logged `text`."""
    return {m.group(1) for line in envoy.proc.own_log().splitlines() if text in line
            for m in [re.match(r"\[[^]]+\]\[(\d+)\]", line)] if m}


def post_logout_token(envoy, token):
    body = urllib.parse.urlencode({"logout_token": token}).encode()
    return request(envoy.port, "POST", BACKCHANNEL, {"content-type": "application/x-www-form-urlencoded"}, body)


def logout_token(idp, **claims):
    base = {"iss": idp.issuer, "aud": "web", "iat": int(time.time()), "jti": str(uuid.uuid4()), "events": {EVENT: {}}}
    return idp.sign({**base, **claims}, header={"typ": "logout+jwt"})


def test_a_logout_at_the_idp_ends_the_session_on_every_worker(site):
    idp, envoy = site
    b = Browser()
    login(b, envoy)
    cookie = session_cookie(b)
    assert spread(envoy, cookie) == [200] * 40, "both workers serve (and cache) the session"
    # Signing out at the IdP itself (as from another app): its end_session form, confirmed,
    # posts a logout token (with this session's sid) to the site before it answers.
    page = b.get(idp.issuer + "/session/end")
    action = re.search(rb'action="([^"]+)"', page.body).group(1).decode()
    xsrf = re.search(rb'name="xsrf" value="([^"]+)"', page.body).group(1).decode()
    done = b.request("POST", urllib.parse.urljoin(idp.issuer, action), {"content-type": "application/x-www-form-urlencoded"},
                     urllib.parse.urlencode({"xsrf": xsrf, "logout": "yes"}).encode())
    assert done.status in (302, 303), done
    assert envoy.stats()["oidc_gate.backchannel_logout.accepted"] == 1
    assert spread(envoy, cookie) == [401] * 40
    assert len(worker_threads(envoy, REVOKED)) == 2, "refused by both workers"
    # A browser with the ended session: sent to sign in, its session cookie cleared.
    r = b.get(envoy.url + "/page")
    assert r.status == 302 and r.headers["location"].startswith(idp.issuer + "/auth")
    assert SESSION not in b.cookies()
    # Signing in again gives a session that lives.
    time.sleep(1.1)  # a logout ends the sessions begun up to its second
    login(b, envoy)
    assert spread(envoy, session_cookie(b), n=8) == [200] * 8


def test_a_replayed_or_badly_signed_logout_token_is_refused_and_ends_nothing(site):
    idp, envoy = site
    b = Browser()
    login(b, envoy)
    cookie = session_cookie(b)
    token = logout_token(idp, sub="nobody")
    first = post_logout_token(envoy, token)
    assert (first.status, first.headers["cache-control"]) == (200, "no-store"), first
    again = post_logout_token(envoy, token)
    assert again.status == 400 and again.headers["cache-control"] == "no-store", again
    assert again.json() == {"error": "invalid_request", "error_description": "The logout token was already used"}
    forged = logout_token(idp, sub="alice")
    forged = forged[:-6] + ("AAAAAA" if not forged.endswith("AAAAAA") else "BBBBBB")
    bad = post_logout_token(envoy, forged)
    assert bad.status == 400 and bad.json()["error_description"] == "The logout token's signature is invalid", bad
    assert spread(envoy, cookie, n=16) == [200] * 16, "alice's session lives on every worker"
    assert envoy.stats()["oidc_gate.backchannel_logout.refused"] >= 2


# An HTTP/2 POST whose body ends with trailers (as gRPC-style clients send), by Node's
# own http2 client: prints the status and the response body as JSON.
H2_TRAILERS = """
const http2 = require('http2');
const [port, path, body] = process.argv.slice(1);
const c = http2.connect('http://127.0.0.1:' + port);
const s = c.request({':method': 'POST', ':path': path, 'content-type': 'application/x-www-form-urlencoded',
  'content-length': String(Buffer.byteLength(body))}, {waitForTrailers: true, endStream: false});
s.on('wantTrailers', () => s.sendTrailers({'x-end': '1'}));
let status = 0, out = '';
const done = () => { console.log(JSON.stringify({status, body: out})); process.exit(0); };
// Node leaves a stream with trailers open after the answer: the answer is read for a moment.
s.on('response', (h) => { status = h[':status']; setTimeout(done, 1000); });
s.on('data', (d) => { out += d; });
s.end(body);
setTimeout(done, 10000);
"""


def test_a_logout_body_that_ends_with_trailers_is_answered_and_never_reaches_the_app(site):
    idp, envoy = site
    body = urllib.parse.urlencode({"logout_token": logout_token(idp, sub="nobody-h2")})
    taken = envoy.stats().get("oidc_gate.backchannel_logout.accepted", 0)
    run = subprocess.run(["node", "-e", H2_TRAILERS, str(envoy.port), BACKCHANNEL, body],
                         capture_output=True, text=True, timeout=30, check=True)
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    assert '"method"' not in answer["body"], f"the logout went to the app: {answer}"
    assert (answer["status"], answer["body"]) == (200, ""), answer
    assert envoy.stats()["oidc_gate.backchannel_logout.accepted"] == taken + 1


def acr_refused(idp, refuse: bool):
    """Test route: the IdP's sign-in ignores acr_values (an IdP that cannot meet them)."""
    idp._call("/__test/acr", json_body={"refuse": refuse})


def test_a_route_with_acr_values_sends_a_session_without_it_to_the_idp_again_then_lets_it_in(site):
    idp, envoy = site
    b = Browser()
    login(b, envoy)  # signed in with the IdP's default acr, "pwd"
    r = b.get(envoy.url + "/billing/invoices?year=2026")
    assert r.status == 302, r
    auth = urllib.parse.urlsplit(r.headers["location"])
    q = dict(urllib.parse.parse_qsl(auth.query))
    assert f"{auth.scheme}://{auth.netloc}{auth.path}" == f"{idp.issuer}/auth"
    assert (q["acr_values"], q["max_age"], q["prompt"]) == ("mfa", "900", "login")
    chain = b.follow(r.headers["location"])
    callback = next(c for c in chain if c.url.startswith(f"{envoy.url}/oauth2/callback"))
    assert callback.headers["location"] == "/billing/invoices?year=2026", "the original URL kept"
    last = chain[-1]
    assert last.status == 200 and last.json()["path"] == "/billing/invoices?year=2026", last
    assert last.json()["headers"]["x-user-id"] == "alice"
    assert b.get(envoy.url + "/billing/next").status == 200, "the stronger session stays in"
    assert envoy.stats()["oidc_gate.login.step_up"] == 1


def test_an_idp_that_cannot_meet_the_acr_ends_on_a_page_not_in_a_loop(site):
    idp, envoy = site
    b = Browser()
    login(b, envoy)
    acr_refused(idp, True)
    try:
        chain = b.follow(envoy.url + "/billing")
    finally:
        acr_refused(idp, False)
    last = chain[-1]
    assert last.status == 403 and b"A stronger sign-in is needed" in last.body, last
    assert len(chain) <= 6, [c.url for c in chain]
    assert b.get(envoy.url + "/some/page").status == 200, "the old session stays as it was"


def test_api_clients_without_the_acr_get_the_rfc_9470_challenge(site):
    idp, envoy = site
    b = Browser()
    login(b, envoy)
    challenge = ('Bearer realm="oidc-gate", error="insufficient_user_authentication", '
                 'error_description="A stronger or more recent authentication is required", acr_values="mfa", max_age="900"')
    r = request(envoy.port, "GET", "/billing/x", {"cookie": session_cookie(b), **API})
    assert r.status == 401 and r.headers["www-authenticate"] == challenge, r
    assert r.json()["error"] == "insufficient_user_authentication"
    now = int(time.time())
    claims = {"iss": idp.issuer, "sub": "svc", "aud": "api://orders", "iat": now, "exp": now + 300}
    weak = idp.sign({**claims, "acr": "pwd", "auth_time": now})
    r = request(envoy.port, "GET", "/billing/x", {"authorization": f"Bearer {weak}"})
    assert r.status == 401 and r.headers["www-authenticate"] == challenge, r
    strong = idp.sign({**claims, "acr": "mfa", "auth_time": now})
    assert request(envoy.port, "GET", "/billing/x", {"authorization": f"Bearer {strong}"}).status == 200
