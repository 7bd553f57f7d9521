"""Hot-path benchmark: requests/s through one Envoy (--concurrency 1), with and without
oidc-gate, side by side in one run. Envoy runs on CPU 0 and wrk on CPU 1.

Each listener answers with a direct_response route, so the numbers hold Envoy's own
HTTP work plus whatever the filter adds, and no upstream. Every case runs in each of
--rounds interleaved rounds; the table shows medians (and the min-max of the ratio), and
Envoy CPU time per request (from /proc) against the no-filter case of the same shape.
With --compare OTHER.wasm, a second module runs beside the first in the same Envoy and
the same rounds, so a change can be judged by ratios measured side by side.
"""
import statistics
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
    ap.add_argument("--seconds", type=int, default=5, help="per case and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--wasm", type=Path, default=WASM, help="the filter module to measure")
    ap.add_argument("--compare", type=Path, help="another module, measured beside --wasm")
    ap.add_argument("--no-logins", action="store_true", help="skip the logins-per-second measure")
    args = ap.parse_args()
    modules = {"gate": args.wasm.resolve()}
    if args.compare:
        modules["cmp"] = args.compare.resolve()

    work = Path(tempfile.mkdtemp(prefix="oidc-gate-bench-"))
    names = ["plain", "gate_nocache", "gate_refresh", "gate_introspect", *modules]
    ports = {name: free_port() for name in names}
    idp = Idp(work, extra=["--redirect-uri", f"http://127.0.0.1:{ports['gate']}/oauth2/callback",
                           "--redirect-uri", f"http://127.0.0.1:{ports['gate_refresh']}/oauth2/callback",
                           "--refresh-tokens"]).start()
    token = idp.client_credentials()
    opaque = idp.opaque_token()
    base_cfg = {
        "issuer": idp.issuer, "idp_cluster": "idp", "client_id": "web", "client_secret": "test-secret",
        "bearer": {"audiences": ["api://orders"]},
        "identity_headers": {"x-user-id": "sub", "x-user-email": "email", "x-user-name": "name"},
        "bypass": [{"prefix": "/healthz"}],
        "session": {"keys": [base64.b64encode(os.urandom(32)).decode()]},
    }
    no_cache_cfg = {**base_cfg, "bearer": {**base_cfg["bearer"], "cache_size": 0}}
    # Sessions that keep a refresh token (the IdP's access tokens live 10 min: never due here).
    refresh_cfg = {**base_cfg, "session": {**base_cfg["session"], "refresh": True, "refresh_margin": "30s"}}
    # Opaque tokens through introspection, cached (one call per 10 minutes).
    introspect_cfg = {**base_cfg, "bearer": {**base_cfg["bearer"], "client_ids": ["service"],
                                             "introspection": {"cache_ttl": "10m"}}}

    def own_vm(cfg, name):
        f = envoycfg.wasm_filter(modules["gate"], cfg)
        f["typed_config"]["config"]["vm_config"]["vm_id"] = f"oidc-gate-{name}"
        return [f]

    listeners = [direct_listener("plain", ports["plain"], []),
                 direct_listener("gate_nocache", ports["gate_nocache"], [envoycfg.wasm_filter(modules["gate"], no_cache_cfg)]),
                 direct_listener("gate_refresh", ports["gate_refresh"], own_vm(refresh_cfg, "refresh")),
                 direct_listener("gate_introspect", ports["gate_introspect"], own_vm(introspect_cfg, "introspect"))]
    for name, path in modules.items():
        # Each module gets its own VM (vm_id), so the two never share state.
        f = envoycfg.wasm_filter(path, base_cfg)
        f["typed_config"]["config"]["vm_config"]["vm_id"] = f"oidc-gate-{name}"
        listeners.append(direct_listener(name, ports[name], [f]))
    admin = free_port()
    cfg_path = work / "bench-envoy.json"
    cfg_path.write_text(json.dumps(envoycfg.bootstrap(admin, listeners, [envoycfg.cluster("idp", idp.port)])))
    envoy = Proc("envoy", ["taskset", "-c", "0"] + envoy_command() + ["-c", cfg_path, "--concurrency", "1", "--disable-hot-restart", "-l", "warning"], work)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if request(admin, "GET", "/ready").body.strip() == b"LIVE" and all(
                        request(ports[m], "GET", "/", {"authorization": f"Bearer {token}"}).status == 200 for m in modules):
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
        # The same for the refresh listener: its session holds a refresh token too.
        rbrowser = Browser()
        chain = rbrowser.follow(f"http://127.0.0.1:{ports['gate_refresh']}/")
        assert chain[-1].status == 200, [(r.status, r.url) for r in chain]
        rsession = "; ".join(f"{k}={v}" for k, v in rbrowser.cookies().items() if k.startswith("__Host-oidc_session"))
        rpadding = "; ".join(f"c{i}={'x' * 90}" for i in range(28 - len(rsession) // 100))
        rcookies = f"cookie: {rsession}; {rpadding}"
        assert request(ports["gate_introspect"], "GET", "/", {"authorization": f"Bearer {opaque}"}).status == 200
        cases = [("no filter, API request with bearer token", "plain", [auth], "/", "api")]
        for m in modules:
            tag = "" if m == "gate" else f" [{args.compare.name}]"
            cases += [
                (f"oidc-gate{tag}, valid bearer (cache hit)", m, [auth], "/", "api"),
                (f"oidc-gate{tag}, no token -> 401", m, ["accept: application/json"], "/", "api"),
                (f"oidc-gate{tag}, bypassed path", m, [], "/healthz", "api"),
            ]
        cases.append(("no filter, browser request, 2.8 KB cookies", "plain", [cookies], "/", "browser"))
        for m in modules:
            tag = "" if m == "gate" else f" [{args.compare.name}]"
            cases.append((f"oidc-gate{tag}, valid session cookie, 2.8 KB cookies", m, [cookies], "/", "browser"))
        cases.append(("oidc-gate, session with refresh on (not due)", "gate_refresh", [rcookies], "/", "browser"))
        cases.append(("oidc-gate, cached introspected opaque token", "gate_introspect",
                      [f"authorization: Bearer {opaque}"], "/", "api"))
        cases.append(("oidc-gate, cache off (RSA verify each request)", "gate_nocache", [auth], "/", "api"))
        for m in modules:
            wrk(ports[m], 2, args.connections, [auth])  # warm-up
        wrk(ports["plain"], 2, args.connections, [auth])
        samples = {c[0]: [] for c in cases}
        for _ in range(args.rounds):
            for label, listener, headers, path, _shape in cases:
                before = cpu_seconds(envoy.pid)
                rps, total, p99, bad = wrk(ports[listener], args.seconds, args.connections, headers, path)
                cpu_us = (cpu_seconds(envoy.pid) - before) / max(total, 1) * 1e6
                if "401" not in label and bad:
                    raise SystemExit(f"{label}: {bad} responses were not 2xx: the case is broken")
                if "401" in label and bad < total:
                    raise SystemExit(f"{label}: {total - bad} requests passed without a token: the filter is not running")
                samples[label].append((rps, cpu_us, p99))
        report(args, modules, cases, samples, envoy)
        if not args.no_logins:
            logins = measure_logins(ports["gate"], seconds=min(args.seconds * 2, 10))
            print(f"\ncomplete browser logins through Envoy (302 -> IdP auto-login -> callback -> code exchange -> 302 -> 200),"
                  f" one client, IdP on the same 2 cores: {logins:.1f}/s")
    finally:
        envoy.stop()
        idp.stop()


def report(args, modules, cases, samples, envoy):
    """Medians per case; each ratio against the no-filter case of the same shape in the same round."""
    base = {shape: label for label, _, _, _, shape in cases if label.startswith("no filter")}
    print(f"\noidc-gate hot path: Envoy --concurrency 1 on CPU 0, wrk -t1 -c{args.connections} on CPU 1, "
          f"{args.rounds} interleaved rounds of {args.seconds}s per case; medians (ratio min-max)")
    for m, path in modules.items():
        print(f"{m}: {path} ({path.stat().st_size} bytes)")
    print(f"envoy: {' '.join(envoy_command())}\n")
    print(f"| {'case':<62} | {'req/s':>7} | {'vs no filter':>18} | {'Envoy CPU added':>15} |")
    print(f"|{'-' * 64}|{'-' * 9}|{'-' * 20}|{'-' * 17}|")
    ratios = {}
    for label, _, _, _, shape in cases:
        rows, base_rows = samples[label], samples[base[shape]]
        r = [a[0] / b[0] for a, b in zip(rows, base_rows)]
        added = [a[1] - b[1] for a, b in zip(rows, base_rows)]
        ratios[label] = r
        rps = statistics.median(x[0] for x in rows)
        print(f"| {label:<62} | {rps:>7.0f} | {statistics.median(r):>5.2f} ({min(r):.2f}-{max(r):.2f}) | "
              f"{statistics.median(added):>+10.1f} us |")
    if len(modules) > 1:
        print(f"\n{args.compare.name} against {args.wasm.name}, same rounds (median of per-round ratios of req/s):")
        for label, listener, _, _, _ in cases:
            if listener != "cmp":
                continue
            mine = label.replace(f" [{args.compare.name}]", "")
            per_round = [a[0] / b[0] for a, b in zip(samples[label], samples[mine])]
            print(f"  {mine.replace('oidc-gate, ', ''):<40} {statistics.median(per_round):.3f} "
                  f"({min(per_round):.3f}-{max(per_round):.3f})")


if __name__ == "__main__":
    main()
