"""Hot-path benchmark: requests/s through one Envoy (--concurrency 1), with and without
oidc-gate, side by side in one run. Envoy runs on CPU 0 and wrk on CPU 1.

Each listener answers with a direct_response route, so the numbers hold Envoy's own
HTTP work plus whatever the filter adds, and no upstream. Also reports Envoy CPU time
per request (from /proc), and the filter's added CPU per request against the baseline.
"""
import argparse
import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from rig import envoycfg  # noqa: E402
from rig.browser import Browser  # noqa: E402
from rig.harness import Idp, request  # noqa: E402
from rig.procs import WASM, Proc, envoy_command, free_port  # noqa: E402


def direct_listener(name, port, filters):
    lst = envoycfg.listener(name, port, "unused", filters)
    hcm = lst["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["route_config"]["virtual_hosts"][0]["routes"] = [
        {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}
    ]
    return lst


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(port, seconds, connections, headers, path="/"):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, total, p99, int(non2xx.group(1)) if non2xx else 0


def measure_logins(port, seconds):
    """Full logins per second, one at a time, each with a fresh cookie jar."""
    done, deadline = 0, time.monotonic() + seconds
    started = time.monotonic()
    while time.monotonic() < deadline:
        chain = Browser().follow(f"http://127.0.0.1:{port}/page")
        assert chain[-1].status == 200, [(r.status, r.url) for r in chain]
        done += 1
    return done / (time.monotonic() - started)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--wasm", type=Path, default=WASM, help="the filter module to measure")
    args = ap.parse_args()
    wasm_path = args.wasm.resolve()

    work = Path(tempfile.mkdtemp(prefix="oidc-gate-bench-"))
    ports = {name: free_port() for name in ("plain", "gate", "gate_nocache")}
    idp = Idp(work, extra=["--redirect-uri", f"http://127.0.0.1:{ports['gate']}/oauth2/callback"]).start()
    token = idp.client_credentials()
    base_cfg = {
        "issuer": idp.issuer, "idp_cluster": "idp", "client_id": "web", "client_secret": "test-secret",
        "bearer": {"audiences": ["api://orders"]},
        "identity_headers": {"x-user-id": "sub", "x-user-email": "email", "x-user-name": "name"},
        "bypass": [{"prefix": "/healthz"}],
        "session": {"keys": [base64.b64encode(os.urandom(32)).decode()]},
    }
    no_cache_cfg = {**base_cfg, "bearer": {**base_cfg["bearer"], "cache_size": 0}}
    listeners = [
        direct_listener("plain", ports["plain"], []),
        direct_listener("gate", ports["gate"], [envoycfg.wasm_filter(wasm_path, base_cfg)]),
        direct_listener("gate_nocache", ports["gate_nocache"], [envoycfg.wasm_filter(wasm_path, no_cache_cfg)]),
    ]
    admin = free_port()
    cfg_path = work / "bench-envoy.json"
    cfg_path.write_text(json.dumps(envoycfg.bootstrap(admin, listeners, [envoycfg.cluster("idp", idp.port)])))
    envoy = Proc("envoy", ["taskset", "-c", "0"] + envoy_command() + ["-c", cfg_path, "--concurrency", "1", "--disable-hot-restart", "-l", "warning"], work)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if request(admin, "GET", "/ready").body.strip() == b"LIVE" and \
                        request(ports["gate"], "GET", "/", {"authorization": f"Bearer {token}"}).status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit(f"envoy not ready:\n{envoy.log()[-3000:]}")

        auth = f"authorization: Bearer {token}"
        # A browser: log in once through Envoy and the IdP, keep the session cookie, and
        # pad the Cookie header with other cookies to about 2.8 KB, as a real site has.
        browser = Browser()
        chain = browser.follow(f"http://127.0.0.1:{ports['gate']}/")
        assert chain[-1].status == 200, [(r.status, r.url) for r in chain]
        session = "; ".join(f"{k}={v}" for k, v in browser.cookies().items() if k.startswith("__Host-oidc_session"))
        padding = "; ".join(f"c{i}={'x' * 90}" for i in range(28 - len(session) // 100))
        cookies = f"cookie: {session}; {padding}"
        scenarios = [
            ("no filter, API request with bearer token", "plain", [auth], "/"),
            ("oidc-gate, valid bearer (cache hit)", "gate", [auth], "/"),
            ("oidc-gate, no token -> 401", "gate", ["accept: application/json"], "/"),
            ("oidc-gate, bypassed path", "gate", [], "/healthz"),
            ("no filter, browser request, 2.8 KB cookies", "plain", [cookies], "/"),
            ("oidc-gate, valid session cookie, 2.8 KB cookies", "gate", [cookies], "/"),
            ("oidc-gate, cache off (RSA verify each request)", "gate_nocache", [auth], "/"),
        ]
        wrk(ports["plain"], 2, args.connections, [auth])  # warm-up
        wrk(ports["gate"], 2, args.connections, [auth])
        results = []
        for label, listener, headers, path in scenarios:
            before = cpu_seconds(envoy.pid)
            rps, total, p99, bad = wrk(ports[listener], args.seconds, args.connections, headers, path)
            cpu_us = (cpu_seconds(envoy.pid) - before) / max(total, 1) * 1e6
            results.append((label, rps, p99, cpu_us, bad, "cookies" in label))
            if "valid" in label and bad:
                raise SystemExit(f"{label}: {bad} responses were not 2xx: the scenario is broken")

        logins = measure_logins(ports["gate"], seconds=min(args.seconds, 10))
        # Each row is compared with the no-filter row of the same request shape.
        baseline = {r[5]: r for r in results if r[0].startswith("no filter")}
        wasm = wasm_path.stat().st_size
        print(f"\noidc-gate hot path: Envoy --concurrency 1 on CPU 0, wrk -t1 -c{args.connections} -d{args.seconds}s on CPU 1")
        print(f"filter: {wasm_path.name} {wasm} bytes; envoy: {' '.join(envoy_command())}\n")
        print(f"| {'scenario':<48} | {'req/s':>9} | {'vs no filter':>12} | {'p99':>8} | {'Envoy CPU/req':>13} | {'added':>8} |")
        print(f"|{'-' * 50}|{'-' * 11}|{'-' * 14}|{'-' * 10}|{'-' * 15}|{'-' * 10}|")
        for label, rps, p99, cpu_us, bad, shape in results:
            base_rps, base_cpu = baseline[shape][1], baseline[shape][3]
            note = f" ({bad} non-2xx)" if bad and "401" not in label else ""
            print(f"| {label + note:<48} | {rps:>9.0f} | {rps / base_rps:>12.2f} | {p99:>8} | {cpu_us:>10.1f} us | {cpu_us - base_cpu:>+5.1f} us |")
        print(f"\ncomplete browser logins through Envoy (302 -> IdP auto-login -> callback -> code exchange -> 302 -> 200),"
              f" one client, IdP on the same 2 cores: {logins:.1f}/s")
    finally:
        envoy.stop()
        idp.stop()


if __name__ == "__main__":
    main()
