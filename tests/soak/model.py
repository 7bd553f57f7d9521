"""What every answer should be: the expected-answer model of the soak, and the judge.

Every response, from wrk or from the Python clients, is counted as (kind, outcome, second):
`kind` names the request (and, after `@`, what it was made under: the IdP's life `e<n>`
for opaque tokens and refresh sessions, the identity mapping `b1|b3|bx` a session was
born under, the session key `k0|k1|kx` that sealed a cookie; after `|`, wrk's note that a
short-lived credential is at (`edge`) or past (`dead`) its expiry); `outcome` is what came
back (see soak.lua). The judge asks, for each count, whether that outcome is an answer the
request may get at that second, given the faults and configuration changes on the timeline.
"""
import threading
from collections import defaultdict

# Seconds added around windows: a fault's effects last up to idp_timeout (2 s) plus the
# filter's one-second memory of a failed shared call; a second of slack for bucketing.
IMPAIRED_BEFORE = 1
IMPAIRED_AFTER = 6
SWITCH_AFTER = 2
INTROSPECTION_CACHE_TTL = 10  # bearer.introspection.cache_ttl in stack.py


class Timeline:
    """What happened when (epoch seconds), written by the fault scheduler, read by the
    request builders and the judge."""

    def __init__(self):
        self.lock = threading.Lock()
        self.faults = []  # {"what": down|500|delay|jwks, "start": t, "end": t or None}
        self.restarts = {}  # dead IdP epoch -> (stopped at, restarted at or None)
        self.switches = {}  # "keys"|"mapping" -> {"write": t, "active": t, "drained": t}
        self.notes = []  # (t, text) for the report

    def fault(self, what, start, end=None):
        with self.lock:
            f = {"what": what, "start": start, "end": end}
            self.faults.append(f)
            return f

    def impaired(self, t, whats=("down", "500", "delay")) -> bool:
        """Whether requests that need the IdP (introspection, token endpoint) may fail at t."""
        for f in self.faults:
            if f["what"] not in whats:
                continue
            end = f["end"] if f["end"] is not None else float("inf")
            if f["start"] - IMPAIRED_BEFORE <= t + 1 and t <= end + IMPAIRED_AFTER:
                return True
        return False

    def impaired_now(self, t) -> bool:
        return self.impaired(t, ("down", "500", "delay", "jwks"))

    def phase(self, name, t) -> str:
        """'1' before the switch `name`, '3' once it is active everywhere and drained,
        'x' in between (either configuration may answer)."""
        s = self.switches.get(name)
        if not s or t < s["write"] - 1:
            return "1"
        if s.get("drained") is not None and t > s["drained"] + SWITCH_AFTER:
            return "3"
        return "x"


class Judge:
    """Collects counts and decides which are wrong."""

    LIVE = ("jwt.main", "jwt.main.fresh", "jwt.other", "jwt.other.fresh", "jwt.other.cc", "apitoken",
            "session.nav", "session.api", "refresh", "grpc.valid")

    def __init__(self, timeline: Timeline, refresh_end_bound):
        self.timeline = timeline
        self.refresh_end_bound = refresh_end_bound  # f(dead epoch) -> seconds after restart
        self.counts = defaultdict(int)  # (source, kind, outcome, sec) -> n
        self.examples = defaultdict(list)  # (kind, outcome) -> [text]
        self.lock = threading.Lock()

    def add(self, source, kind, outcome, sec, n=1, example=None):
        with self.lock:
            self.counts[(source, kind, outcome, sec)] += n
            if example and len(self.examples[(kind, outcome)]) < 3:
                self.examples[(kind, outcome)].append(example)

    # ---- the model --------------------------------------------------------------------

    def allowed(self, kind: str, t: int) -> tuple:
        """(set of acceptable outcomes, category): category "allow" (a valid credential),
        "refuse" (must never be let through) or "anon" (bypassed: no identity)."""
        tl = self.timeline
        base, _, note = kind.partition("|")
        base, _, attr = base.partition("@")
        needs_idp = tl.impaired(t)
        mapping = tl.phase("mapping", t)

        def ok200(iss_rule):
            # iss_rule: "iss" (x-user-iss set once the mapping has it), "none" (never),
            # or a session's birth b1|b3|bx (sessions keep only the claims mapped at login).
            if iss_rule == "none" or mapping == "1":
                return {"200:absent"}
            if iss_rule == "iss":
                return {"200:ok"} if mapping == "3" else {"200:ok", "200:absent"}
            return {"b1": {"200:absent"}, "b3": {"200:ok"}}.get(iss_rule, {"200:ok", "200:absent"})

        if base in ("jwt.main", "jwt.main.fresh", "jwt.other", "jwt.other.fresh", "jwt.other.cc"):
            return ok200("iss"), "allow"
        if base == "apitoken":
            return ok200("none"), "allow"
        if base in ("session.nav", "session.api"):
            return ok200(attr), "allow"
        if base == "opaque":
            epoch = int(attr.lstrip("e"))
            out = set()
            died = tl.restarts.get(epoch)
            if note == "":
                out |= ok200("iss")
            elif note == "edge":
                out |= ok200("iss") | {"401:invalid"}
            else:
                out |= {"401:invalid"}
            if died:
                stopped, restarted = died
                if t > stopped + INTROSPECTION_CACHE_TTL + 2:
                    out -= {"200:ok", "200:absent"}
                if restarted is not None and t >= restarted - 1:
                    out.add("401:invalid")
            if needs_idp:
                out.add("503:temp")
            return out, "allow" if note == "" and not died else "refuse"
        if base.startswith("bad."):
            out = {"401:invalid"}
            # These need the IdP's word: opaque tokens through introspection, and a JWT of
            # the login issuer whose key its JWKS lacks (introspection is configured, so
            # it is asked, as for Okta's org-server tokens).
            if base in ("bad.opaque_unknown", "bad.apitoken", "bad.opaque_client", "bad.unknown_kid") and needs_idp:
                out.add("503:temp")
            return out, "refuse"
        if base.endswith(".nav") and base.startswith(("session.expired", "session.tampered", "session.garbage", "anon")):
            return {"302:idp"}, "refuse"
        if base.startswith(("session.expired", "session.tampered", "session.garbage", "anon")):
            return ({"401:page"} if base.endswith(".form") else {"401:unauth"}), "refuse"
        if base == "bypass.evasion":
            return {"401:unauth"}, "refuse"
        if base == "bypass":
            return {"200:absent"}, "anon"
        if base in ("grpc.none", "grpc.bad"):
            return {"grpc:16"} | self.switching(t), "refuse"
        if base == "grpc.valid":
            return ok200("iss") | self.switching(t), "allow"
        if base == "refresh":
            epoch = int(attr.lstrip("e"))
            out = {"200:absent"}
            died = tl.restarts.get(epoch)
            if died and died[1] is not None:
                if t >= died[1] - 1:
                    out.add("302:idp")  # the grant died with the IdP: invalid_grant ends the session
                if t > died[1] + self.refresh_end_bound(epoch):
                    out.discard("200:absent")  # ...and it must have ended by now
            return out, "allow"
        if base == "login.start":
            return {"302:idp"}, "refuse"
        if base == "login.callback":
            out = {"302:back"}
            if needs_idp:
                # The code exchange needed the IdP: 503 "sign-in unavailable" when it did not
                # answer, 502 "sign-in failed" when it answered an error (its 500 fault).
                out |= {"503:page", "502:page"}
            return out, "login"
        if base == "login.final":
            return ok200(attr), "allow"
        if base == "probe":
            # A web cookie opened by the `short` listener, which keeps the first key only:
            # sealed by the old key (before the rotation) it opens, by the new one it does not.
            return {"k0": {"200:absent"}, "k1": {"302:idp"}}.get(attr, {"200:absent", "302:idp"}), "probe"
        if base == "logout":
            return {"302:end"}, "logout"
        if base == "logout.after":
            return {"302:idp"}, "refuse"
        return set(), "unknown"

    def switching(self, t) -> set:
        """While old listeners drain, Envoy sends GOAWAY on their HTTP/2 connections: a
        request that crossed it fails on the client, which retries on a new connection
        (the retried request is judged on its own)."""
        return {"goaway"} if "x" in (self.timeline.phase("keys", t), self.timeline.phase("mapping", t)) else set()

    # ---- the verdict ------------------------------------------------------------------

    def judge(self):
        tl = self.timeline
        r = {"total": 0, "by_source": defaultdict(int), "wrong": 0, "let_through": 0, "unexpected_5xx": 0,
             "expected_503": 0, "expected_5xx_other": 0, "outage_live": 0, "outage_live_failed": 0,
             "per_kind": defaultdict(lambda: defaultdict(int)), "wrong_by": {},
             "wrong_examples": [], "outage_failed_by": defaultdict(int)}
        downs = [(s, e) for (s, e) in tl.restarts.values()]
        for (source, kind, outcome, sec), n in sorted(self.counts.items()):
            r["total"] += n
            r["by_source"][source] += n
            base = kind.partition("|")[0].partition("@")[0]
            r["per_kind"][base][outcome] += n
            allowed, category = self.allowed(kind, sec)
            ok = outcome in allowed
            if outcome.startswith("5"):
                if ok:
                    r["expected_503" if outcome.startswith("503") else "expected_5xx_other"] += n
                else:
                    r["unexpected_5xx"] += n
            # Seconds wholly inside the outage: from the stop to the IdP serving again.
            if base in self.LIVE and any(s <= sec and sec + 1 <= (e if e is not None else float("inf")) for s, e in downs):
                r["outage_live"] += n
                if not outcome.startswith("200"):
                    r["outage_live_failed"] += n
                    r["outage_failed_by"][(kind, outcome)] += n
            if ok:
                continue
            r["wrong"] += n
            w = r["wrong_by"].setdefault((kind, outcome), [0, sec, allowed])
            w[0] += n
            if outcome in ("200:wrong", "200:spoof") or (outcome.startswith("200") and category in ("refuse", "allow")
                                                         and not any(a.startswith("200") for a in allowed)):
                r["let_through"] += n
        for (kind, outcome), (n, first, allowed) in sorted(r["wrong_by"].items(), key=lambda x: -x[1][0]):
            ex = self.examples.get((kind, outcome)) or []
            r["wrong_examples"].append({"kind": kind, "outcome": outcome, "count": n, "first_second": first,
                                        "expected": sorted(allowed), "examples": ex[:2]})
        return r
