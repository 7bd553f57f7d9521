"""Where a request's time goes inside Envoy: Envoy's CPU per request, split by where it ran.

One Envoy (--concurrency 1, CPU 0; wrk on CPU 1), one listener per case ending in a
direct_response, as scripts/bench has them: no filter, the no-op proxy-wasm floor and oidc-gate,
for an API request (a cached bearer token) and a browser request (a session cookie from a real
login, the Cookie header padded to about 2.8 KB). While wrk loads a case, `perf record` samples
Envoy; each sample is put down to the wasm code V8 compiled (`wasm`), Envoy's own binary (its
C++ and V8's runtime: host calls, wrappers, the HTTP work), the kernel, or the C library. The
CPU per request comes from /proc, the split from the samples (perf's own cost is in both, so
compare cases, not runs).

With --steps, oidc-gate is also measured built with each `step-*` feature (shell/step_probe.rs):
the request's work stops after that step, so each row's "step adds" column is what that step
costs inside Envoy. Medians of --rounds interleaved rounds.
"""
import argparse
import base64
import collections
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
from bench import envoycfg, Idp, request, free_port  # noqa: E402

STEPS = ["step-return", "step-read", "step-clock", "step-write", "step-decide"]
STEP_LABELS = {
    "step-return": "module loaded, request goes on at once",
    "step-read": "+ read the header map",
    "step-clock": "+ read the clock",
    "step-write": "+ write one request header (no decision)",
    "step-decide": "read, clock, the decision (nothing written)",
}
WHERE = ["wasm", "envoy", "kernel", "libc"]


def where(dso):
    """Which part of Envoy's process a sample's DSO is."""
    if "envoy" in dso:
        return "envoy"
    if "kernel" in dso:
        return "kernel"
    if "libc" in dso or "ld-linux" in dso or "libm" in dso or "vdso" in dso:
        return "libc"
    # V8's generated code: no file behind it (perf names it [JIT], perf-PID.map or [unknown]).
    return "wasm"


def profile(envoy_pid, port, headers, seconds, data):
    """Load one listener while perf samples Envoy: (req/s, CPU us per request, us per part)."""
    c0 = bench.cpu_seconds(envoy_pid)
    perf = subprocess.Popen(["perf", "record", "-q", "-F", "2999", "-p", str(envoy_pid), "-o", str(data),
                             "--", "sleep", str(max(1, seconds - 1))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rps, total, _p99, bad = bench.wrk(port, seconds, 32, headers)
    perf.wait()
    c1 = bench.cpu_seconds(envoy_pid)
    if bad:
        raise SystemExit(f"{bad} non-2xx answers on port {port}: the case is not what it claims")
    us = (c1 - c0) / total * 1e6
    out = subprocess.run(["perf", "script", "-i", str(data), "-F", "ip,dso"], capture_output=True, text=True,
                         check=True).stdout
    # Each line: the sampled address, then its DSO in brackets.
    counts = collections.Counter(where(line.split(None, 1)[1]) for line in out.splitlines() if len(line.split()) > 1)
    n = sum(counts.values()) or 1
    data.unlink(missing_ok=True)
    return rps, us, {k: us * counts[k] / n for k in WHERE}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=5, help="per case and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=Path, help="a directory with the step-* builds (scripts/envoy-profile --steps)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="oidc-gate-profile-"))
    modules = {"oidc-gate": bench.WASM}
    if args.steps:
        modules.update({s: args.steps / f"{s}.wasm" for s in STEPS})
    ports = {name: free_port() for name in ["plain", "noop", *modules]}
    idp = Idp(work, extra=["--redirect-uri", f"http://127.0.0.1:{ports['oidc-gate']}/oauth2/callback",
                           "--access-token-ttl", "3600"]).start()
    token = idp.client_credentials()
    cfg = {
        "issuer": idp.issuer, "idp_cluster": "idp", "client_id": "web", "client_secret": "test-secret",
        "bearer": {"audiences": ["api://orders"]},
        "identity_headers": {"x-user-id": "sub", "x-user-email": "email", "x-user-name": "name"},
        "session": {"keys": [base64.b64encode(os.urandom(32)).decode()]},
    }
    listeners = [bench.direct_listener("plain", ports["plain"], []),
                 bench.direct_listener("noop", ports["noop"], [bench.noop_filter()])]
    for name, path in modules.items():
        f = envoycfg.wasm_filter(path.resolve(), cfg)
        f["typed_config"]["config"]["vm_config"]["vm_id"] = name
        listeners.append(bench.direct_listener(name, ports[name], [f]))
    envoy = bench.OwnEnvoy(work, "profile", listeners, idp.port)
    auth = f"authorization: Bearer {token}"
    try:
        envoy.ready(lambda: all(request(ports[m], "GET", "/", {"authorization": f"Bearer {token}"}).status == 200
                                for m in modules))
        # The filter runs: no credential, no entry (a step build lets it through: not checked).
        assert request(ports["oidc-gate"], "GET", "/", {"accept": "application/json"}).status == 401
        cookies = bench.browser_cookies(ports["oidc-gate"], ("__Host-oidc_session",))
        cases = [("API", "no filter", "plain", [auth]), ("API", "no-op wasm floor", "noop", [auth]),
                 ("API", "oidc-gate, cached bearer token", "oidc-gate", [auth])]
        cases += [("API", f"{s}: {STEP_LABELS[s]}", s, [auth]) for s in STEPS if s in modules]
        cases += [("browser", "no filter", "plain", [cookies]), ("browser", "no-op wasm floor", "noop", [cookies]),
                  ("browser", "oidc-gate, session cookie", "oidc-gate", [cookies])]
        samples = collections.defaultdict(list)
        for _ in range(args.rounds):
            for shape, label, name, headers in cases:
                samples[(shape, label)].append(profile(envoy.proc.pid, ports[name], headers, args.seconds,
                                                       work / "perf.data"))
    finally:
        envoy.stop()
        idp.stop()

    print(f"\nEnvoy CPU per request, by where it ran (medians of {args.rounds} rounds of {args.seconds} s; "
          "perf sampling included). 'added' and 'step adds' are medians of the differences within each "
          "round (cases measured minutes apart drift together)")
    print(f"| {'request':8} | {'case':55} | {'req/s':>7} | {'CPU us':>6} | {'added':>6} | "
          + " | ".join(f"{w:>6}" for w in WHERE) + " | step adds |")
    print("|" + "---|" * (6 + len(WHERE)))

    def paired(label, base):
        return statistics.median(a[1] - b[1] for a, b in zip(samples[label], samples[base]))

    plain = {shape: (shape, label) for (shape, label) in samples if label == "no filter"}
    keys = list(samples)
    for i, (shape, label) in enumerate(keys):
        runs = samples[(shape, label)]
        rps = statistics.median(r[0] for r in runs)
        us = statistics.median(r[1] for r in runs)
        parts = {w: statistics.median(r[2][w] for r in runs) for w in WHERE}
        step = ""
        if label.startswith("step-") and not label.startswith("step-return"):
            # Each step against the one before it; the decision against the clock (it writes nothing).
            base = next(k for k in keys if k[1].startswith("step-clock")) if label.startswith("step-decide") else keys[i - 1]
            step = f"{paired((shape, label), base):+.1f}"
        print(f"| {shape:8} | {label:55} | {rps:7.0f} | {us:6.1f} | {paired((shape, label), plain[shape]):+6.1f} | "
              + " | ".join(f"{parts[w]:6.1f}" for w in WHERE) + f" | {step:>9} |")
    decide = next((k for k in keys if k[1].startswith("step-decide")), None)
    if decide is not None:
        full = next(k for k in keys if k[1].startswith("oidc-gate, cached"))
        print(f"carrying the decision out (the identity headers written): {paired(full, decide):+.1f} us "
              "(oidc-gate - step-decide)")
    for shape in plain:
        floor = next(k for k in keys if k[0] == shape and k[1] == "no-op wasm floor")
        gate = next(k for k in keys if k[0] == shape and k[1].startswith("oidc-gate"))
        ratio = statistics.median(g[0] / f[0] for g, f in zip(samples[gate], samples[floor]))
        print(f"{shape}: oidc-gate vs the floor, requests/s: {ratio:.2f} (median of the rounds' ratios)")


if __name__ == "__main__":
    main()
