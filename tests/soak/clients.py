"""The slower kinds of traffic, from Python threads beside wrk: real logins through the IdP
(form login, several users), logouts, expired sessions, sessions with refresh (bursts of
concurrent requests with one cookie jar), and gRPC calls over HTTP/2 (prior knowledge).
Each answer of Envoy is classified like soak.lua does and counted in the judge."""
import json
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from rig.browser import Browser
from rig.harness import request
from stack import SESSION

NAV = {"accept": "text/html,application/xhtml+xml", "sec-fetch-mode": "navigate"}


def classify(status, headers, body: bytes, uid="-", cid="-", iss="-", auth_prefix="", need_bearer=False):
    """The outcome labels of soak.lua, for a response of the Python clients."""
    text = body.decode(errors="replace")
    if status == 200:
        if "SPOOF" in text:
            return "200:spoof"
        if SESSION in text:
            return "200:cookieleak"
        try:
            seen = json.loads(text)["headers"]
        except (ValueError, KeyError, TypeError):
            return "200:notecho"
        if seen.get("x-user-id", "-") != uid or seen.get("x-client-id", "-") != cid:
            return "200:wrong"
        if need_bearer and not seen.get("authorization", "").startswith("Bearer "):
            return "200:noaccesstoken"
        got = seen.get("x-user-iss", "-")
        return "200:absent" if got == "-" else ("200:ok" if got == iss else "200:isswrong")
    if status == 302:
        return "302:idp" if headers.get("location", "").startswith(auth_prefix) else "302:other"
    if status == 401:
        for marker, label in (('"invalid_token"', "401:invalid"), ('"unauthenticated"', "401:unauth"),
                              ("session has expired", "401:page")):
            if marker in text:
                return label
        return "401:other"
    if status == 503:
        return "503:temp" if "temporarily_unavailable" in text else "503:page"
    if status == 502:
        return "502:page"
    return str(status)


def example(resp, note=""):
    h = resp.headers
    return (f"t={int(time.time())} {note} status={resp.status} location={h.get('location', '')[:120]} "
            f"www-authenticate={h.get('www-authenticate', '')} body={resp.body[:300]!r}")


class Clients:
    def __init__(self, stack, creds, timeline, judge, login_every, refresh_users, grpc_rate):
        self.s = stack
        self.creds = creds
        self.tl = timeline
        self.judge = judge
        self.login_every = login_every
        self.refresh_users = refresh_users
        self.grpc_rate = grpc_rate
        self.stop = threading.Event()
        self.threads = []
        self.auth_prefix = stack.idp.issuer + "/auth?"
        self.stats = {"logins": 0, "login_skipped": 0, "logouts": 0, "refresh_sessions": 0, "refresh_ended": 0}
        self.refresh_log = []  # per refresh session: {"epoch", "user", "start", "last_ok", "ended"}
        self.latencies = []  # seconds, every Python request to Envoy
        self.lock = threading.Lock()

    def record(self, kind, outcome, resp=None, note=""):
        ok_outcomes, _ = self.judge.allowed(kind, int(time.time()))
        ex = None if outcome in ok_outcomes or resp is None else example(resp, note)
        self.judge.add("py", kind, outcome, int(time.time()), example=ex)

    def timed(self, fn, *a, **kw):
        t = time.monotonic()
        r = fn(*a, **kw)
        with self.lock:
            self.latencies.append(time.monotonic() - t)
        return r

    def start(self):
        for target, name in [(self.logins, "logins"), (self.grpc, "grpc")] + \
                [(lambda i=i: self.refresher(i), f"refresh-{i}") for i in range(self.refresh_users)]:
            t = threading.Thread(target=self.guard, args=(target, name), name=name, daemon=True)
            t.start()
            self.threads.append(t)

    def guard(self, fn, name):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - a client dying must show, not hang the soak
            self.judge.add("py", f"client-crash.{name}", repr(e)[:80], int(time.time()), example=repr(e))
            raise

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    # ---- logins and logouts -----------------------------------------------------------

    def born_tag(self):
        return "b" + self.tl.phase("mapping", time.time())

    def key_tag(self):
        return "k" + {"1": "0", "3": "1", "x": "x"}[self.tl.phase("keys", time.time())]

    def login(self, listener, user, path, final_kind=None):
        """A complete login through Envoy and the IdP's form. Returns (Browser, born tag,
        key tag) once signed in, None when the IdP could not be used (it is down or faulty)."""
        base = self.s.urls[listener]
        b = Browser()
        r = self.timed(b.get, base + path)
        self.record("login.start", classify(r.status, r.headers, r.body, auth_prefix=self.auth_prefix), r, path)
        if r.status != 302:
            return None
        url = urllib.parse.urljoin(base + path, r.headers["location"])
        for _ in range(12):
            if url.startswith(base):
                cb = self.timed(b.get, url)
                k, born = self.key_tag(), self.born_tag()  # as sealed now, by the config in force
                back = cb.status == 302 and cb.headers.get("location") == path
                outcome = "302:back" if back else classify(cb.status, cb.headers, cb.body, auth_prefix=self.auth_prefix)
                self.record("login.callback", outcome, cb, url[:80])
                if not back:
                    return None
                if listener != "web":
                    born = "b1"  # the identity mapping changes on the web listener only
                final = self.timed(b.get, base + path)
                iss = self.s.idp.issuer
                self.record(final_kind or f"login.final@{born}",
                            classify(final.status, final.headers, final.body, user, "-", iss, self.auth_prefix,
                                     need_bearer=listener == "refresh"), final)
                return (b, born, k) if final.status == 200 else None
            try:
                r = b.get(url)
            except OSError:
                return None  # the IdP is down: not the filter's answer
            if r.status in (301, 302, 303):
                url = urllib.parse.urljoin(url, r.headers["location"])
                continue
            if r.status == 200 and "/interaction/" in url:
                uid = url.split("/interaction/", 1)[1].split("/")[0].split("?")[0]
                try:
                    r = b.request("POST", f"{self.s.idp.issuer}/interaction/{uid}/login",
                                  {"content-type": "application/x-www-form-urlencoded"},
                                  urllib.parse.urlencode({"login": user, "password": user}).encode())
                except OSError:
                    return None
                if r.status in (302, 303):
                    url = urllib.parse.urljoin(url, r.headers["location"])
                    continue
            return None  # an IdP error page (its 500 fault)
        return None

    @staticmethod
    def cookie_header(b: Browser):
        names = sorted((c.name for c in b.jar if c.name.startswith(SESSION) and "_flow_" not in c.name))
        values = {c.name: c.value for c in b.jar}
        return "; ".join(f"{n}={values[n]}" for n in names), len(names) > 1

    def logins(self):
        users = ["alice", "bob", "alice", "bob", "carol"]
        n = 0
        while not self.stop.is_set():
            n += 1
            user = users[n % len(users)]
            got = self.login("web", user, f"/app/{n}?tab=1")
            if got is None:
                self.stats["login_skipped"] += 1
            else:
                self.stats["logins"] += 1
                b, born, k = got
                cookie, chunked = self.cookie_header(b)
                # Which key sealed it: the `short` listener holds the first key only.
                probe = self.timed(request, self.s.ports["short"], "GET", "/probe", {**NAV, "cookie": cookie})
                self.record(f"probe@{k}", classify(probe.status, probe.headers, probe.body, user, "-",
                                                   auth_prefix=self.auth_prefix), probe)
                if n % 3 == 0:
                    self.logout(b)
                else:
                    self.creds.add_session(cookie, user, born, chunked)
            if n % 4 == 0:
                self.make_expired()
            self.stop.wait(self.login_every)

    def logout(self, b: Browser):
        base = self.s.urls["web"]
        r = self.timed(b.get, base + "/oauth2/logout")
        cleared = any(k == "set-cookie" and v.startswith(f"{SESSION}=") and "Max-Age=0" in v for k, v in r.all_headers)
        end = r.status == 302 and r.headers.get("location", "").startswith(self.s.idp.issuer + "/session/end")
        outcome = "302:end" if end and cleared else ("302:nocookieclear" if end else
                                                     classify(r.status, r.headers, r.body, auth_prefix=self.auth_prefix))
        self.record("logout", outcome, r)
        after = self.timed(b.get, base + "/page/after-logout")
        self.record("logout.after", classify(after.status, after.headers, after.body, auth_prefix=self.auth_prefix), after)
        self.stats["logouts"] += 1

    def make_expired(self):
        """A session of the `short` listener (2 s lifetime): validly sealed, soon expired."""
        got = self.login("short", "alice", "/short", final_kind="login.final@b1")
        if got is None:
            return
        cookie, _ = self.cookie_header(got[0])
        threading.Timer(3.0, self.creds.add_expired, args=(cookie,)).start()

    # ---- sessions with refresh --------------------------------------------------------

    def refresher(self, i):
        user = ["alice", "bob"][i % 2]
        pool = ThreadPoolExecutor(3)
        base = self.s.urls["refresh"]
        session = None
        while not self.stop.is_set():
            if session is None:
                if self.tl.impaired_now(int(time.time())):
                    self.stop.wait(1)
                    continue
                got = self.login("refresh", user, f"/r/{i}", final_kind="login.final@b1")
                if got is None:
                    self.stop.wait(2)
                    continue
                session = {"epoch": self.s.epoch, "user": user, "start": time.time(), "last_ok": time.time(),
                           "ended": None, "b": got[0]}
                with self.lock:
                    self.refresh_log.append(session)
                self.stats["refresh_sessions"] += 1
            b = session["b"]
            futures = [pool.submit(self.timed, b.get, f"{base}/r/{i}/{j}") for j in range(3)]
            ended = False
            for f in futures:
                try:
                    r = f.result()
                except OSError as e:
                    self.judge.add("py", f"refresh@e{session['epoch']}", "error", int(time.time()), example=repr(e))
                    continue
                outcome = classify(r.status, r.headers, r.body, user, "-", "-", self.auth_prefix, need_bearer=True)
                self.record(f"refresh@e{session['epoch']}", outcome, r)
                if outcome.startswith("200"):
                    session["last_ok"] = time.time()
                elif outcome == "302:idp":
                    ended = True
            if ended:
                session["ended"] = time.time()
                self.stats["refresh_ended"] += 1
                session = None
            self.stop.wait(0.3)
        pool.shutdown()

    # ---- gRPC -------------------------------------------------------------------------

    def grpc(self):
        import httpx
        url = self.s.urls["web"] + "/soak.v1.Orders/Get"
        base = {"content-type": "application/grpc", "te": "trailers"}
        main_sub, main_tok = self.creds.main_tokens[1]
        kinds = [("grpc.none", {}), ("grpc.bad", {"authorization": f"Bearer {self.creds.bad['bad.sig']}"}),
                 ("grpc.valid", {"authorization": f"Bearer {main_tok}"})]
        client = httpx.Client(http1=False, http2=True, timeout=30)
        n = 0
        retry = None
        while not self.stop.is_set():
            if retry is None:
                kind, extra = kinds[n % len(kinds)]
                n += 1
            else:
                kind, extra = retry
            retry = None
            t = time.monotonic()
            try:
                r = client.post(url, headers={**base, **extra}, content=b"\x00\x00\x00\x00\x00")
            except (httpx.HTTPError, h2_errors()) as e:
                # A connection Envoy closed (GOAWAY when its listener drains): a new one, and
                # the same request again.
                self.judge.add("py", kind, "goaway", int(time.time()), example=repr(e))
                client.close()
                client = httpx.Client(http1=False, http2=True, timeout=30)
                retry = (kind, extra)
                self.stop.wait(0.05)
                continue
            with self.lock:
                self.latencies.append(time.monotonic() - t)
            headers = {k.lower(): v for k, v in r.headers.items()}
            if r.http_version != "HTTP/2":
                outcome = "not-h2"
            elif "grpc-status" in headers and r.status_code == 200:
                outcome = "grpc:" + headers["grpc-status"] + (":redirect" if "location" in headers else "")
            else:
                outcome = classify(r.status_code, headers, r.content, main_sub, f"client-{main_sub}",
                                   self.s.idp.issuer, self.auth_prefix)
            resp = type("R", (), {"status": r.status_code, "headers": headers, "body": r.content})
            self.record(kind, outcome, resp)
            self.stop.wait(1.0 / self.grpc_rate)
        client.close()


def h2_errors():
    import h2.exceptions
    return h2.exceptions.ProtocolError


__all__ = ["Clients", "classify"]
