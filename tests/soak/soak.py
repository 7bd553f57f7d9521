"""Soak with faults: oidc-gate in a real Envoy (--concurrency 2) under sustained mixed load,
every answer checked, while the IdP is stopped, fails, stalls, serves garbage keys, and the
filter's configuration is changed twice at run time. Run it with scripts/soak.

Load: wrk (Lua: soak.lua) carries the bulk, rotating over a table of requests that soak.py
rebuilds before each wrk run of --chunk-seconds (new never-seen tokens, new opaque tokens,
new sessions); Python threads (clients.py) do what wrk cannot: logins through the IdP's
form, logouts, sessions with refresh (a cookie jar that takes the renewed cookies), gRPC
over HTTP/2. Every answer is counted as (kind, outcome, second) and judged by model.py.

Faults (scaled by --requests / 1,000,000, with floors; in this order, spread over the run):
session keys rotated to [new, old]; JWKS served as garbage; the IdP stopped (a minute) and
started again (its grants die with it); the IdP answering 500; the identity mapping
changed (x-user-iss added); the IdP answering after 20 s.
"""
import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/: the rig package
sys.path.insert(0, str(HERE))

from clients import Clients  # noqa: E402
from credentials import Credentials  # noqa: E402
from model import Judge, Timeline  # noqa: E402
from rig.procs import ROOT, WASM  # noqa: E402
from stack import Phase, Stack  # noqa: E402

FULL = {"down": 60, "500": 30, "delay": 30, "jwks": 30}  # seconds, for 1,000,000 requests
FLOOR = {"down": 8, "500": 5, "delay": 6, "jwks": 5}
IDP_PATHS = ["/token", "/jwks", "/.well-known", "/me"]  # not /auth nor /interaction: logins reach the callback


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Run:
    def __init__(self, args):
        self.args = args
        self.tl = Timeline()
        self.stop = threading.Event()
        self.total = 0  # answers counted so far (for the RSS table)
        self.rss = []  # (seconds since start, kB, answers so far)
        self.chunks = []  # (answers, {percentile: us})
        self.wrk_errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
        self.schedule_done = threading.Event()
        self.last_event_end = None
        self.aborted = None

    # ---- faults and changes -----------------------------------------------------------

    def plan(self, duration):
        scale = min(1.0, self.args.requests / 1_000_000)
        dur = {k: max(FLOOR[k], FULL[k] * scale) for k in FULL}
        gap = max(8.0, 0.03 * duration)
        steps = [(0.14, "keys", 0), (0.22, "jwks", dur["jwks"]), (0.32, "down", dur["down"]),
                 (0.52, "500", dur["500"]), (0.64, "mapping", 0), (0.74, "delay", dur["delay"])]
        return steps, gap

    def scheduler(self, stack, t0, duration):
        try:
            self.schedule(stack, t0, duration)
        except Exception as e:  # noqa: BLE001 - a fault that could not be made fails the run
            self.aborted = f"the fault schedule failed: {e!r}"
            log(self.aborted)
            self.schedule_done.set()

    def schedule(self, stack, t0, duration):
        steps, gap = self.plan(duration)
        at = t0
        for frac, what, seconds in steps:
            at = max(t0 + frac * duration, at)
            if self.stop.wait(max(0.0, at - time.time())):
                return
            start = time.time()
            if what == "keys":
                self.switch(stack, "keys", Phase(2, rotated=True, mapping_v3=False))
            elif what == "mapping":
                self.switch(stack, "mapping", Phase(3, rotated=True, mapping_v3=True))
            elif what == "down":
                epoch = stack.epoch
                self.tl.restarts[epoch] = (start, None)
                f = self.tl.fault("down", start)
                log(f"fault: IdP stopped for {seconds:.0f}s (epoch {epoch} ends: its grants and opaque tokens die)")
                stack.stop_idp()
                self.stop.wait(seconds)
                stack.start_idp()
                f["end"] = time.time()
                self.tl.restarts[epoch] = (start, f["end"])
                log(f"fault: IdP started again after {f['end'] - start:.1f}s (epoch {stack.epoch})")
            else:
                spec = {"jwks": dict(paths=["/jwks"], garbage=True), "500": dict(paths=IDP_PATHS, status=500),
                        "delay": dict(paths=IDP_PATHS, delay_ms=20000)}[what]
                f = self.tl.fault(what, start)
                log(f"fault: IdP {what} on {spec['paths']} for {seconds:.0f}s")
                stack.idp.fault(seconds=seconds, **spec)
                self.stop.wait(seconds)
                stack.idp.fault()
                f["end"] = time.time()
            self.tl.notes.append((start, time.time(), what, seconds))
            self.last_event_end = time.time()
            at = self.last_event_end + gap
        self.schedule_done.set()

    def switch(self, stack, name, phase):
        self.tl.switches[name] = {"write": time.time(), "active": None, "drained": None}
        written, active, drained = stack.switch(phase)
        self.tl.switches[name] = {"write": written, "active": active, "drained": drained}
        log(f"config v{phase.version} ({name}): active on every listener after {active - written:.2f}s,"
            f" old listeners drained after {drained - written:.2f}s")

    # ---- measurements -----------------------------------------------------------------

    def sampler(self, stack, t0):
        while not self.stop.is_set():
            try:
                self.rss.append((time.time() - t0, stack.rss_kb(), self.total))
            except OSError:
                pass
            self.stop.wait(10)

    def run_wrk(self, stack, creds, seconds, run_dir, n):
        table = run_dir / "wrk-table.tsv"
        out = run_dir / "wrk-out.tsv"
        table.write_text("\n".join(creds.table()) + "\n")
        env = {**os.environ, "SOAK_TABLE": str(table), "SOAK_OUT": str(out),
               "SOAK_AUTH_PREFIX": stack.idp.issuer + "/auth?"}
        cmd = ["wrk", f"-t{self.args.threads}", f"-c{self.args.connections}", f"-d{seconds}s", "--timeout", "30s",
               "-s", str(HERE / "soak.lua"), stack.urls["web"]]
        out.unlink(missing_ok=True)
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 120)
        if p.returncode != 0 or not out.exists():
            raise RuntimeError(f"wrk failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        answers, pct = 0, {}
        for row in out.read_text().splitlines():
            f = row.split("\t")
            if f[0] == "C":
                kind, outcome, sec, count = f[1], f[2], int(f[3]), int(f[4])
                self.judge.add("wrk", kind, outcome, sec, count)
                answers += count
            elif f[0] == "E":
                # Kept only when that answer was wrong at its second (t=... in the text).
                ex = self.judge.examples[(f[1], f[2])]
                t = re.match(r"t=(\d+)", f[4])
                if len(ex) < 3 and t and f[2] not in self.judge.allowed(f[1], int(t.group(1)))[0]:
                    ex.append(f[4])
            elif f[0] == "S":
                for i, k in enumerate(("connect", "read", "write"), start=3):
                    self.wrk_errors[k] += int(f[i])
                self.wrk_errors["timeout"] += int(f[7])
            elif f[0] == "L":
                pct[float(f[1])] = int(f[2])
        self.chunks.append((answers, pct))
        return answers

    # ---- the run ----------------------------------------------------------------------

    def main(self):
        a = self.args
        run_dir = a.run_dir or ROOT / "tests" / ".runs" / "soak" / time.strftime("%Y%m%d-%H%M%S")
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        log(f"run directory {run_dir}")
        stack = Stack(run_dir, access_ttl=a.access_ttl, refresh_margin=a.refresh_margin)
        opaque_ok = b"client_ids" in stack.wasm.read_bytes()
        stack.client_ids = opaque_ok
        clients = None
        try:
            stack.start()
            log(f"Envoy pid {stack.envoy_pid} (--concurrency 2), listeners {stack.ports}, IdPs {stack.idp.issuer} "
                f"{stack.other.issuer}")
            if not opaque_ok:
                log("warning: this build has no bearer.client_ids: opaque tokens are not checked")
            # Bound for a refresh session of a dead grant to end after the IdP is back: the
            # back-off of failed refreshes (doubling from 2 s, at most 60 s), then a due refresh.
            due = a.access_ttl - a.refresh_margin

            def end_bound(epoch):
                stopped, restarted = self.tl.restarts[epoch]
                return min(60.0, 2 * (restarted - stopped) + 4) + due + 10

            self.judge = Judge(self.tl, end_bound)
            creds = Credentials(stack, self.tl, opaque_ok)
            creds.prepare()
            creds.mint_chunk()
            clients = Clients(stack, creds, self.tl, self.judge, a.login_every, a.refresh_users, a.grpc_rate)
            # A few sessions before the load starts.
            for user in ("alice", "bob", "carol"):
                got = clients.login("web", user, "/warmup")
                if got:
                    cookie, chunked = clients.cookie_header(got[0])
                    creds.add_session(cookie, user, "b1", chunked)
            clients.make_expired()
            time.sleep(3.5)
            t0 = time.time()
            self.t0 = t0
            threading.Thread(target=self.sampler, args=(stack, t0), daemon=True).start()
            clients.start()
            chunk = a.chunk_seconds or (10 if a.requests >= 200_000 else 5)
            log(f"load: wrk -t{a.threads} -c{a.connections} in runs of {chunk}s; Python: logins every {a.login_every}s, "
                f"{a.refresh_users} refresh sessions, gRPC {a.grpc_rate}/s")
            n = 0
            duration = None
            while True:
                n += 1
                creds.mint_chunk()
                answers = self.run_wrk(stack, creds, chunk, run_dir, n)
                if not stack.envoy.alive() or not answers:
                    self.aborted = f"Envoy {'exited' if not stack.envoy.alive() else 'answered nothing'}" \
                                   f" (see {stack.envoy.log_path})"
                    log(f"stopping: {self.aborted}")
                    break
                self.total = sum(self.judge.counts.values())
                now = time.time()
                if duration is None:
                    rate = self.total / (now - t0)
                    duration = a.minutes * 60 if a.minutes else a.requests / rate
                    self.duration = duration
                    steps, gap = self.plan(duration)
                    log(f"{rate:.0f} answers/s: planned {duration:.0f}s for {a.requests} requests; faults scaled "
                        f"x{min(1.0, a.requests / 1e6):.2f}: {[(s[1], round(s[2])) for s in steps]}")
                    threading.Thread(target=self.scheduler, args=(stack, t0, duration), daemon=True).start()
                if n % 5 == 0:
                    log(f"{self.total} answers, {now - t0:.0f}s, Envoy RSS {stack.rss_kb() / 1024:.1f} MB")
                if self.aborted:
                    break
                if self.total >= a.requests and now - t0 >= (a.minutes or 0) * 60 and self.schedule_done.is_set():
                    tail = max(10.0, 0.05 * duration)
                    for epoch, (_, restarted) in self.tl.restarts.items():
                        tail = max(tail, restarted + end_bound(epoch) + 3 - self.last_event_end)
                    if now >= self.last_event_end + tail:
                        break
                if now - t0 > 4 * duration + 600:
                    log("stopping: far past the planned duration")
                    break
            self.stop.set()
            clients.join()
            self.end = time.time()
            self.rss.append((self.end - t0, stack.rss_kb(), sum(self.judge.counts.values())))
            try:
                envoy_stats, idp_stats = stack.stats(), stack.idp.stats()
            except OSError:
                envoy_stats, idp_stats = {}, {}
        finally:
            self.stop.set()
            if clients:
                clients.stop.set()
            stack.stop()
        return self.report(run_dir, stack, clients, envoy_stats, idp_stats)

    # ---- the report -------------------------------------------------------------------

    def latency(self, q):
        """Percentile q of every wrk answer: the chunks' distributions mixed (each chunk's
        CDF interpolated between the percentiles wrk reported)."""
        chunks = [(n, sorted(p.items())) for n, p in self.chunks if n]
        total = sum(n for n, _ in chunks)

        def cdf(pts, v):
            prev_p, prev_v = 0.0, 0
            for p, pv in pts:
                if v < pv:
                    return prev_p + (p - prev_p) * (v - prev_v) / max(pv - prev_v, 1)
                prev_p, prev_v = p, pv
            return 100.0

        values = sorted({v for _, pts in chunks for _, v in pts})
        for v in values:
            if sum(n * cdf(pts, v) for n, pts in chunks) / total >= q:
                return v
        return values[-1] if values else 0

    def report(self, run_dir, stack, clients, envoy_stats, idp_stats):
        a = self.args
        r = self.judge.judge()
        elapsed = self.end - self.t0
        p = print
        p("")
        p("=" * 100)
        p(f"oidc-gate soak: Envoy --concurrency 2 (pid {stack.envoy_pid}), {WASM.name} {stack.wasm.stat().st_size} bytes")
        p(f"requests answered: {r['total']:,} in {elapsed:.0f}s ({r['total'] / elapsed:,.0f}/s): "
          f"wrk {r['by_source']['wrk']:,}, Python clients {r['by_source']['py']:,}"
          f" (logins {clients.stats['logins']}, skipped while the IdP failed {clients.stats['login_skipped']}, "
          f"logouts {clients.stats['logouts']}, refresh sessions {clients.stats['refresh_sessions']}, "
          f"ended by invalid_grant {clients.stats['refresh_ended']})")
        p(f"wrk socket errors: {self.wrk_errors} (requests cut at the end of each wrk run are not counted)")
        p("")
        p("timeline (seconds from start):")
        for start, end, what, seconds in sorted(self.tl.notes):
            if what in ("keys", "mapping"):
                s = self.tl.switches[what]
                label = {"keys": "session keys rotated to [new, old] (web, refresh)",
                         "mapping": "identity mapping + x-user-iss (web)"}[what]
                p(f"  {start - self.t0:7.1f}  config change: {label}: active {s['active'] - s['write']:.2f}s later,"
                  f" old listeners drained {s['drained'] - s['write']:.2f}s later")
                continue
            label = {"down": "IdP stopped, then started again", "500": "IdP answers 500 on " + " ".join(IDP_PATHS),
                     "delay": "IdP answers after 20 s on " + " ".join(IDP_PATHS), "jwks": "IdP serves garbage JWKS"}[what]
            p(f"  {start - self.t0:7.1f}  {label} for {end - start:.1f}s")
        p("")
        p("answers by kind (outcome: count):")
        for kind in sorted(r["per_kind"]):
            outs = ", ".join(f"{o} {n:,}" for o, n in sorted(r["per_kind"][kind].items(), key=lambda x: -x[1]))
            p(f"  {kind:<24} {outs}")
        p("")
        p(f"wrong answers: {r['wrong']:,}")
        for w in r["wrong_examples"][:12]:
            p(f"  {w['kind']} -> {w['outcome']} x{w['count']} (first at {w['first_second'] - self.t0:.0f}s; expected one of"
              f" {w['expected']})")
            for ex in w["examples"]:
                p(f"      e.g. {ex[:400]}")
        p(f"let through that should have been refused (or with another identity): {r['let_through']:,}")
        p(f"unexpected 5xx: {r['unexpected_5xx']:,}; expected 503 temporarily_unavailable (needed the IdP while it failed):"
          f" {r['expected_503']:,}; sign-in pages 502/503 of logins whose code exchange met a failing IdP:"
          f" {r['expected_5xx_other']:,}")
        p(f"while the IdP was down: {r['outage_live']:,} requests with live sessions, refresh sessions or bearer tokens"
          f" whose keys were cached; failed: {r['outage_live_failed']:,}"
          + "".join(f"\n  {k} -> {o} x{n}" for (k, o), n in sorted(r["outage_failed_by"].items())))
        refresh_verdict = self.refresh_check(clients)
        p(f"refresh sessions of a grant that died with the IdP: {refresh_verdict[1]}")
        p(f"latency (wrk, all kinds): p50 {self.latency(50) / 1000:.2f} ms, p99 {self.latency(99) / 1000:.2f} ms,"
          f" p99.9 {self.latency(99.9) / 1000:.1f} ms")
        lat = sorted(clients.latencies)
        if lat:
            p(f"latency (Python clients: logins' Envoy hops, refresh bursts, gRPC): p50 {lat[len(lat) // 2] * 1000:.1f} ms,"
              f" p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms")
        interesting = ("allowed.bearer", "allowed.session", "allowed.bypass", "session.refreshed", "session.refresh_failed",
                       "session.ended", "session.expired", "session.invalid", "login.completed", "login.failed",
                       "denied.idp_unavailable", "idp.jwks_failure", "idp.discovery_failure", "token_cache.hit",
                       "token_cache.miss")
        p("Envoy counters: " + ", ".join(f"{k} {envoy_stats.get('oidc_gate.' + k, 0):,}" for k in interesting))
        p(f"main IdP (last life): token calls {idp_stats.get('token')}, introspection {idp_stats.get('introspection')},"
          f" invalid_grant {idp_stats.get('invalid_grant')} {idp_stats.get('invalid_grant_reasons')}")
        p("")
        rss_csv = run_dir / "rss.csv"
        with open(rss_csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["seconds", "rss_kb", "answers"])
            w.writerows([(round(t, 1), kb, n) for t, kb, n in self.rss])
        p(f"Envoy RSS (VmRSS every 10 s; answers as counted at the end of the last wrk run; {rss_csv}):")
        p(f"  {'s':>6} {'MB':>8} {'answers':>10}")
        events = sorted((start - self.t0, what) for start, _, what, _ in self.tl.notes)
        prev = -1.0
        for t, kb, n in self.rss:
            since = [w for at, w in events if prev < at <= t]
            prev = t
            p(f"  {t:6.0f} {kb / 1024:8.1f} {n:10,}" + (f"   (since the last row: {', '.join(since)})" if since else ""))
        base = next(((t, kb) for t, kb, _ in self.rss if t >= 0.1 * elapsed), self.rss[0][:2])
        end_kb = self.rss[-1][1]
        growth = (end_kb - base[1]) / base[1] * 100
        p(f"RSS growth from {base[0]:.0f}s (10% of the run) to the end: {base[1] / 1024:.1f} -> {end_kb / 1024:.1f} MB"
          f" ({growth:+.2f}%)")
        fails = [self.aborted] if self.aborted else []
        unanswered = sum(self.wrk_errors.values())
        if unanswered:
            fails.append(f"{unanswered} wrk requests without an answer (socket errors or timeouts)")
        if r["total"] < a.requests:
            fails.append(f"only {r['total']:,} of {a.requests:,} requests")
        if r["wrong"]:
            fails.append(f"{r['wrong']:,} wrong answers")
        if r["let_through"]:
            fails.append(f"{r['let_through']:,} let through")
        if r["unexpected_5xx"]:
            fails.append(f"{r['unexpected_5xx']:,} unexpected 5xx")
        if r["outage_live_failed"]:
            fails.append(f"{r['outage_live_failed']:,} live credentials failed while the IdP was down")
        if not r["outage_live"]:
            fails.append("no live credential was tried while the IdP was down")
        if growth >= 5:
            fails.append(f"RSS grew {growth:.1f}%")
        if not refresh_verdict[0]:
            fails.append("refresh sessions: " + refresh_verdict[1])
        if len(self.tl.switches) < 2 or len([n for n in self.tl.notes if n[2] not in ("keys", "mapping")]) < 4:
            fails.append("not every fault or configuration change happened")
        summary = {"total": r["total"], "wrong": r["wrong"], "let_through": r["let_through"],
                   "unexpected_5xx": r["unexpected_5xx"], "expected_503": r["expected_503"],
                   "outage_live": r["outage_live"], "outage_live_failed": r["outage_live_failed"],
                   "p50_ms": self.latency(50) / 1000, "p99_ms": self.latency(99) / 1000, "rss_growth_pct": growth,
                   "wrong_examples": r["wrong_examples"][:20], "per_kind": r["per_kind"], "fails": fails,
                   "wrk_errors": self.wrk_errors}
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
        # Every count, for a closer look: source, kind, outcome, second from start, count.
        with open(run_dir / "answers.tsv", "w") as f:
            for (source, kind, outcome, sec), n in sorted(self.judge.counts.items(), key=lambda x: x[0][3]):
                f.write(f"{source}\t{kind}\t{outcome}\t{sec - self.t0:.0f}\t{n}\n")
        (run_dir / "timeline.json").write_text(json.dumps({
            "t0": self.t0, "switches": {k: {e: v - self.t0 for e, v in s.items()} for k, s in self.tl.switches.items()},
            "faults": [{"what": f["what"], "start": f["start"] - self.t0, "end": f["end"] - self.t0} for f in self.tl.faults],
            "restarts": {e: [x - self.t0 for x in v] for e, v in self.tl.restarts.items()}}, indent=1))
        p("")
        p(f"VERDICT: {'PASS' if not fails else 'FAIL: ' + '; '.join(fails)}")
        p(f"(logs, tables and summary.json in {run_dir})")
        return 0 if not fails else 1

    def refresh_check(self, clients):
        """Every refresh session alive when its IdP died must have ended (invalid_grant)
        within the bound after the IdP came back; none may have ended before."""
        restarts = self.tl.restarts
        if not restarts:
            return False, "the IdP was never restarted"
        dead, ended, inconclusive, late = 0, 0, 0, 0
        for ses in clients.refresh_log:
            died = restarts.get(ses["epoch"])
            if not died or died[1] is None or ses["start"] > died[0]:
                continue
            dead += 1
            bound = died[1] + self.judge.refresh_end_bound(ses["epoch"])
            if ses["ended"] is not None:
                ended += 1
                if ses["ended"] > bound:
                    late += 1
            elif self.end < bound:
                inconclusive += 1
            else:
                late += 1
        text = (f"{dead} alive at the restart, {ended} ended by the IdP's invalid_grant after it came back,"
                f" {late} still working past the bound, {inconclusive} not yet due when the run ended")
        return (dead > 0 and late == 0), text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1_000_000, help="at least this many answers (default 1,000,000)")
    ap.add_argument("--minutes", type=float, help="plan the faults over this long (default: what --requests takes at"
                                                  " the rate of the first wrk run); the run lasts at least this long")
    ap.add_argument("--chunk-seconds", type=int, help="length of each wrk run (default 10, 5 below 200,000 requests)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--access-ttl", type=int, default=30, help="the main IdP's access token lifetime (s)")
    ap.add_argument("--refresh-margin", type=int, default=25, help="session.refresh_margin (s) of the refresh listener")
    ap.add_argument("--refresh-users", type=int, default=3)
    ap.add_argument("--login-every", type=float, default=2.0, help="seconds between logins (web listener)")
    ap.add_argument("--grpc-rate", type=float, default=50, help="gRPC calls per second (HTTP/2, Python)")
    ap.add_argument("--run-dir", type=Path)
    args = ap.parse_args()
    if not WASM.exists():
        sys.exit(f"{WASM} is missing: run scripts/build")
    run = Run(args)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    sys.exit(run.main())


if __name__ == "__main__":
    main()
