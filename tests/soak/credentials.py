"""The credentials the soak sends and the request table wrk rotates over.

Tokens come from the real IdPs: JWTs signed by their own keys (test route /__test/sign,
for claims a real IdP would not issue: a distinct subject per token, past expiry, another
audience...), client-credentials tokens (JWT from the second issuer, opaque from the
main one), and a static API token. Session cookies come from real logins (clients.py).
"""
import base64
import json
import os
import threading
import time
import urllib.parse
import urllib.request
from collections import deque

from stack import API_TOKEN, SESSION

NAV = ["accept: text/html,application/xhtml+xml", "sec-fetch-mode: navigate"]
API = ["accept: application/json", "sec-fetch-mode: cors"]
# Client-sent identity headers, in several spellings: never to reach the upstream.
SPOOF = ["x-user-id: SPOOF", "X_User_Id: SPOOF", "x_user_email: SPOOF", "X-CLIENT-ID: SPOOF", "x-user-groups: SPOOF"]
KEEP = "theme=dark"  # a cookie of the app's own: must reach the upstream beside a session
SKEW = 5  # clock_skew in stack.py
FRESH_PER_RUN = 24  # never-seen main-issuer tokens in each wrk run: over a long soak, more than the
# verified-token cache holds (bearer.cache_size 1024 per worker), so its eviction is exercised too
FRESH_RESERVE = 400  # signed at start, for when the IdP is down


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def call(url, form=None, json_body=None, basic=None, timeout=3.0):
    headers = {}
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["content-type"] = "application/json"
    else:
        data = urllib.parse.urlencode(form or {}).encode()
        headers["content-type"] = "application/x-www-form-urlencoded"
    if basic:
        headers["authorization"] = "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
    req = urllib.request.Request(url, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def line(kind, weight, uid="-", cid="-", iss="-", live_until=0, dead_from=0, keep="-", method="GET", path="/",
         body="-", headers=()):
    fields = [kind, str(weight), uid, cid, iss, str(int(live_until)), str(int(dead_from)), keep, method, path, body,
              *headers]
    assert not any("\t" in f or "\n" in f for f in fields), fields
    return "\t".join(fields)


class Credentials:
    def __init__(self, stack, timeline, opaque_ok: bool):
        self.s = stack
        self.tl = timeline
        self.opaque_ok = opaque_ok
        self.lock = threading.Lock()
        self.sessions = []  # {"cookie", "user", "born", "b", "chunked"}
        self.expired = deque(maxlen=6)  # cookie headers of sessions past their lifetime
        self.reserve = deque()
        self.fresh_n = 0
        self.opaque = []  # {"token", "epoch", "exp"}
        self.chunk = 0

    # ---- minting ----------------------------------------------------------------------

    def sign(self, idp, claims, alg="RS256", header=None):
        return call(idp.issuer + "/__test/sign", json_body={"claims": claims, "alg": alg, "header": header or {}})["token"]

    def claims(self, idp, sub, aud, ttl=8 * 3600, **extra):
        now = int(time.time())
        c = {"iss": idp.issuer, "sub": sub, "aud": aud, "iat": now, "exp": now + ttl, "client_id": f"client-{sub}"}
        c.update(extra)
        return c

    def prepare(self):
        s = self.s
        main, other = s.idp, s.other
        self.main_tokens = [(f"m-user-{i}", self.sign(main, self.claims(main, f"m-user-{i}", "api://orders"),
                                                       "RS256" if i % 3 else "ES256")) for i in range(12)]
        self.other_tokens = [(f"o-user-{i}", self.sign(other, self.claims(other, f"o-user-{i}", "api://orders-es256"),
                                                        "ES256" if i % 2 else "RS256")) for i in range(12)]
        self.other_cc = call(other.issuer + "/token", {"grant_type": "client_credentials", "resource": "api://orders-es256",
                                                       "scope": "api"}, basic=("service", "test-secret"))["access_token"]
        now = int(time.time())
        good = self.main_tokens[0][1]
        h, p, sig = good.split(".")
        mid = len(sig) // 2
        bad_sig = f"{h}.{p}.{sig[:mid]}{'A' if sig[mid] != 'A' else 'B'}{sig[mid + 1:]}"
        none_header = b64(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
        self.bad = {
            "bad.expired": self.sign(main, self.claims(main, "x-expired", "api://orders", iat=now - 7200, exp=now - 3600)),
            "bad.other_expired": self.sign(other, self.claims(other, "x-expired", "api://orders-es256", iat=now - 7200,
                                                              exp=now - 3600), "ES256"),
            "bad.aud": self.sign(main, self.claims(main, "x-aud", "api://somebody-else")),
            "bad.other_aud": self.sign(other, self.claims(other, "x-aud", "api://orders"), "ES256"),
            "bad.sig": bad_sig,
            "bad.forged_iss": self.sign(main, self.claims(main, "x-forged", "api://orders-es256", iss=other.issuer)),
            "bad.unknown_kid": self.sign(main, self.claims(main, "x-kid", "api://orders"), header={"kid": "soak-unknown-kid"}),
            "bad.alg_none": f"{none_header}.{b64(json.dumps(self.claims(main, 'x-none', 'api://orders')).encode())}.",
            "bad.garbage_jwt": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.Z2FyYmFnZQ",
            "bad.shape": "not;a;token",
            "bad.apitoken": API_TOKEN + "x",
        }
        for _ in range(FRESH_RESERVE):
            self.reserve.append(self.fresh_main())

    def fresh_main(self):
        self.fresh_n += 1
        sub = f"f-user-{self.fresh_n}"
        return sub, self.sign(self.s.idp, self.claims(self.s.idp, sub, "api://orders"), "RS256" if self.fresh_n % 4 else "ES256")

    def mint_chunk(self):
        """New credentials for the next wrk run: tokens never seen by Envoy (verified with
        the keys it holds, whatever the IdP's state), and opaque tokens while the IdP serves."""
        self.chunk += 1
        now = time.time()
        healthy = not self.tl.impaired_now(int(now))
        fresh, signing = [], True  # /__test/sign answers whenever the IdP runs, faults or not
        for _ in range(FRESH_PER_RUN):
            tok = None
            if signing:
                try:
                    tok = self.fresh_main()
                except OSError:
                    signing = False
            tok = tok or (self.reserve.popleft() if self.reserve else None)
            if tok:
                fresh.append(tok)
        self.fresh = fresh
        self.fresh_other = []
        for i in range(4):
            sub = f"of-user-{self.chunk}-{i}"
            self.fresh_other.append((sub, self.sign(self.s.other, self.claims(self.s.other, sub, "api://orders-es256"),
                                                    "ES256")))
        self.opaque_unknown = "soak-unknown-" + os.urandom(12).hex()
        if healthy and self.opaque_ok:
            try:
                for _ in range(2):
                    r = call(self.s.idp.issuer + "/token", {"grant_type": "client_credentials", "scope": "api"},
                             basic=("service", "test-secret"))
                    self.opaque.append({"token": r["access_token"], "epoch": self.s.epoch, "exp": int(now) + r["expires_in"]})
                r = call(self.s.idp.issuer + "/token", {"grant_type": "client_credentials", "scope": "api"},
                         basic=("web", "test-secret"))
                self.opaque_client = r["access_token"]
            except OSError:
                pass
        # Keep the newest, and some that expired or whose IdP died (they must be refused).
        self.opaque = self.opaque[-10:]

    # ---- the table --------------------------------------------------------------------

    def add_session(self, cookie, user, born_tag, chunked):
        with self.lock:
            self.sessions.append({"cookie": cookie, "user": user, "b": born_tag, "chunked": chunked})

    def add_expired(self, cookie):
        with self.lock:
            self.expired.append(cookie)

    def table(self):
        main_iss, other_iss = self.s.idp.issuer, self.s.other.issuer
        out = []
        n = 0

        def bearer(token):
            return f"authorization: Bearer {token}"

        for i, (sub, tok) in enumerate(self.main_tokens):
            out.append(line("jwt.main", 3, sub, f"client-{sub}", main_iss, path=f"/orders/{i}",
                            headers=[bearer(tok), *(SPOOF if i % 2 else [])]))
        for i, (sub, tok) in enumerate(self.other_tokens):
            out.append(line("jwt.other", 2, sub, f"client-{sub}", other_iss, path=f"/orders/o{i}",
                            headers=[bearer(tok), *(SPOOF if i % 2 else [])]))
        out.append(line("jwt.other.cc", 6, "service", "service", other_iss, path="/orders/cc", headers=[bearer(self.other_cc)]))
        for i, (sub, tok) in enumerate(self.fresh):
            out.append(line("jwt.main.fresh", 1, sub, f"client-{sub}", main_iss, path=f"/orders/f{i}",
                            headers=[bearer(tok), *(SPOOF if i % 2 else [])]))
        for i, (sub, tok) in enumerate(self.fresh_other):
            out.append(line("jwt.other.fresh", 1, sub, f"client-{sub}", other_iss, path=f"/orders/of{i}", headers=[bearer(tok)]))
        out.append(line("apitoken", 8, "ci-bot", "-", "-", path="/orders/api", headers=[bearer(API_TOKEN), *SPOOF]))
        for i, o in enumerate(self.opaque):
            weight = 3 if i >= len(self.opaque) - 2 else 1
            out.append(line(f"opaque@e{o['epoch']}", weight, "-", "service", main_iss, live_until=o["exp"] - 2,
                            dead_from=o["exp"] + SKEW + 2, path=f"/orders/op{i}", headers=[bearer(o["token"])]))
        bad = dict(self.bad, **{"bad.opaque_unknown": self.opaque_unknown})
        if getattr(self, "opaque_client", None):
            bad["bad.opaque_client"] = self.opaque_client
        for kind, tok in bad.items():
            out.append(line(kind, 2, path="/orders/bad", headers=[bearer(tok), *SPOOF]))
        with self.lock:
            sessions = list(self.sessions)
            expired = list(self.expired)
        # The newest sessions, and the oldest ones (born under the first key and mapping).
        chosen = sessions[:6] + sessions[6:][-14:]
        for i, ses in enumerate(chosen):
            cookie = f"cookie: {KEEP}; {ses['cookie']}"
            extra = SPOOF if i % 2 else []
            out.append(line(f"session.nav@{ses['b']}", 2, ses["user"], "-", main_iss, keep=KEEP, path=f"/page/{i}",
                            headers=[*NAV, cookie, *extra]))
            out.append(line(f"session.api@{ses['b']}", 1, ses["user"], "-", main_iss, keep=KEEP, path="/api/items",
                            headers=[*API, cookie, *extra]))
        for cookie in expired[-3:]:
            out.append(line("session.expired.nav", 1, path="/page/x", headers=[*NAV, f"cookie: {cookie}"]))
            out.append(line("session.expired.api", 1, path="/api/items", headers=[*API, f"cookie: {cookie}"]))
            out.append(line("session.expired.form", 1, method="POST", path="/form", body="a=1",
                            headers=["accept: text/html", "sec-fetch-mode: navigate",
                                     "content-type: application/x-www-form-urlencoded", f"cookie: {cookie}"]))
        plain = [s for s in sessions if not s["chunked"]][-2:]
        for ses in plain:
            name, _, value = ses["cookie"].partition("=")
            mid = len(value) // 2
            tampered = f"{name}={value[:mid]}{'A' if value[mid] != 'A' else 'B'}{value[mid + 1:]}"
            out.append(line("session.tampered.nav", 1, path="/page/t", headers=[*NAV, f"cookie: {tampered}"]))
            out.append(line("session.tampered.api", 1, path="/api/items", headers=[*API, f"cookie: {tampered}"]))
        out.append(line("session.garbage.nav", 1, path="/page/g", headers=[*NAV, f"cookie: {SESSION}=garbage"]))
        out.append(line("session.garbage.api", 1, path="/api/items", headers=[*API, f"cookie: {SESSION}=garbage"]))
        out.append(line("anon.nav", 3, path="/page/anon", headers=[*NAV, *SPOOF]))
        out.append(line("anon.api", 3, path="/api/items", headers=[*API, *SPOOF]))
        out.append(line("anon.xhr", 2, path="/page/xhr", headers=[*NAV, "x-requested-with: XMLHttpRequest"]))
        out.append(line("bypass", 8, path=f"/healthz/{n}", headers=[*SPOOF, "x_user_groups: SPOOF"]))
        out.append(line("bypass.evasion", 2, path="/healthz;x=1", headers=[*API]))
        out.append(line("bypass.evasion", 1, path="/healthz/%2e%2e/api/items", headers=[*API]))
        return out
