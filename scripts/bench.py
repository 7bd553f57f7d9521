"""Hot-path benchmark: requests/s through one Envoy (--concurrency 1), side by side in one
run: no filter, the no-op proxy-wasm floor (bench/noop), Envoy's native jwt_authn (with and
without its cache) and oauth2 (session cookies from a real login through it), and oidc-gate
(bearer cache hit and miss RS256/ES256/EdDSA, introspected token, session, session with refresh).
Envoy runs on CPU 0 and wrk on CPU 1. Then, each in an Envoy of its own: many distinct tokens
(a pool of --pool tokens) through oidc-gate with --concurrency 2 (verifications per token per
Envoy, from the filter's counters), and the RSS each filter adds (one Envoy with only that
listener, after load). Logins per second end to end, and the .wasm sizes. Writes docs/benchmarks.md and docs/benchmarks.png
(unless --no-report).

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
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from rig import envoycfg  # noqa: E402
from rig.browser import Browser  # noqa: E402
from rig.harness import COUNTERS_LAG, Idp, request  # noqa: E402
from rig.procs import WASM, Proc, envoy_command, free_port  # noqa: E402


def direct_listener(name, port, filters):
    lst = envoycfg.listener(name, port, "unused", filters)
    hcm = lst["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["route_config"]["virtual_hosts"][0]["routes"] = [
        {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}
    ]
    return lst


def backchannel_listener(port, filters):
    """A direct listener whose back-channel logout path routes to an upstream (the IdP's
    cluster): a logout's headers go on before the filter reads its body, and a
    direct_response would answer them first."""
    lst = direct_listener("gate_backchannel", port, filters)
    routes = lst["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    routes.insert(0, {"match": {"prefix": "/oauth2/backchannel-logout"}, "route": {"cluster": "idp"}})
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


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit(f"no VmRSS for {pid}")


def counters(admin, prefix="wasmcustom.oidc_gate."):
    time.sleep(COUNTERS_LAG)
    body = request(admin, "GET", "/stats?filter=oidc_gate").body.decode()
    out = {}
    for line in body.splitlines():
        name, _, value = line.partition(": ")
        if name.startswith(prefix) and value.strip().isdigit():
            out[name[len(prefix):]] = int(value)
    return out


class OwnEnvoy:
    """An Envoy of its own for one measurement: its listeners, the IdP cluster."""

    def __init__(self, work, name, listeners, idp_port, concurrency=1, cpus="0"):
        self.admin = free_port()
        path = work / f"bench-{name}.json"
        path.write_text(json.dumps(envoycfg.bootstrap(self.admin, listeners, [envoycfg.cluster("idp", idp_port)])))
        self.proc = Proc(f"envoy-{name}", ["taskset", "-c", cpus] + envoy_command() + [
            "-c", path, "--concurrency", str(concurrency), "--disable-hot-restart", "-l", "warning"], work)

    def ready(self, check):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if request(self.admin, "GET", "/ready").body.strip() == b"LIVE" and check():
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"envoy not ready:\n{self.proc.log()[-3000:]}")

    def stop(self):
        self.proc.stop()


def measure_rss(work, idp, modules, cfg, auth, seconds):
    """RSS of one Envoy with only one listener, after load: no filter, the no-op floor, each
    oidc-gate module. What a filter adds is its RSS less the no-filter Envoy's."""
    out = {}
    shapes = [("plain", []), ("noop", [noop_filter()])]
    shapes += [(m, [envoycfg.wasm_filter(path, cfg)]) for m, path in modules.items()]
    for name, filters in shapes:
        port = free_port()
        envoy = OwnEnvoy(work, f"rss-{name}", [direct_listener(name, port, filters)], idp.port)
        try:
            ok = (lambda: True) if name in ("plain", "noop") else (
                lambda: request(port, "GET", "/", {"authorization": auth.split(" ", 1)[1]}).status == 200)
            envoy.ready(ok)
            if name not in ("plain", "noop"):
                assert request(port, "GET", "/", {"accept": "application/json"}).status == 401, f"{name}: filter not running"
            wrk(port, seconds, 32, [auth])
            wrk(port, 1, 32, ["accept: application/json"])
            time.sleep(1)
            out[name] = rss_kib(envoy.proc.pid)
        finally:
            envoy.stop()
    return out


LUA_POOL = """
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format(nil, nil, {["authorization"] = "Bearer " .. tokens[i]})
end
"""


def mint_pool(idp, token, size):
    """`size` distinct genuine RS256 tokens of the IdP (its /__test/sign), like `token`."""
    from concurrent.futures import ThreadPoolExecutor
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    claims["exp"] = int(time.time()) + 3600

    def one(i):
        return idp.sign({**claims, "sub": f"pool-user-{i}", "jti": f"pool-{i}"})
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(size)))


def measure_many_tokens(work, idp, modules, cfg, tokens, seconds):
    """A pool of distinct tokens, each sent over and over, through oidc-gate in an Envoy with
    --concurrency 2 (both CPUs, wrk beside it): verifications per token per Envoy (the
    filter's token_cache.shared_miss counter: a JWT verified because no worker had), and req/s."""
    pool_file = work / "pool.txt"
    pool_file.write_text("\n".join(tokens) + "\n")
    script = work / "pool.lua"
    script.write_text(LUA_POOL)
    out = {}
    for m, path in modules.items():
        port = free_port()
        envoy = OwnEnvoy(work, f"pool-{m}", [direct_listener(m, port, [envoycfg.wasm_filter(path, cfg)])], idp.port,
                         concurrency=2, cpus="0-1")
        try:
            envoy.ready(lambda: request(port, "GET", "/", {"authorization": f"Bearer {tokens[0]}"}).status == 200)
            assert request(port, "GET", "/", {"accept": "application/json"}).status == 401, f"{m}: filter not running"
            before = counters(envoy.admin)
            cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c32", f"-d{seconds}s", "-s", str(script), f"http://127.0.0.1:{port}/"]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, "BENCH_TOKENS": str(pool_file)}).stdout
            rps = float(re.search(r"Requests/sec:\s+([\d.]+)", res).group(1))
            total = int(re.search(r"(\d+) requests in", res).group(1))
            if re.search(r"Non-2xx or 3xx responses: (\d+)", res):
                raise SystemExit(f"many tokens [{m}]: some requests were refused:\n{res}")
            after = counters(envoy.admin)
            delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            seen = min(total, len(tokens))
            out[m] = {"rps": rps, "requests": total, "tokens": seen,
                      "verified": delta.get("token_cache.shared_miss", 0) + 0.0,
                      "shared_hit": delta.get("token_cache.shared_hit", 0),
                      "hit": delta.get("token_cache.hit", 0)}
            if "token_cache.shared_miss" not in after:
                # A module without the shared cache: every per-worker miss is a verification.
                out[m]["verified"] = delta.get("token_cache.miss", 0) + 0.0
        finally:
            envoy.stop()
    return out


def measure_logins(port, seconds):
    """Full logins per second, one at a time, each with a fresh cookie jar."""
    done, deadline = 0, time.monotonic() + seconds
    started = time.monotonic()
    while time.monotonic() < deadline:
        chain = Browser().follow(f"http://127.0.0.1:{port}/page")
        assert chain[-1].status == 200, [(r.status, r.url) for r in chain]
        done += 1
    return done / (time.monotonic() - started)


NOOP_WASM = WASM.parent / "noop_filter.wasm"


def noop_filter():
    f = envoycfg.wasm_filter(NOOP_WASM, {})
    f["typed_config"]["config"]["vm_config"]["vm_id"] = "noop"
    f["typed_config"]["config"]["root_id"] = ""
    return f


def jwt_authn(idp, cache):
    """Envoy's native JWT filter, the IdP's JWKS inline (no fetch while measuring)."""
    jwks = urllib.request.urlopen(f"{idp.issuer}/jwks", timeout=10).read().decode()
    provider = {"issuer": idp.issuer, "audiences": ["api://orders", "api://orders-es256"],
                "local_jwks": {"inline_string": jwks}, "forward": True}
    if cache:
        provider["jwt_cache_config"] = {"jwt_cache_size": 1000}
    return {"name": "envoy.filters.http.jwt_authn", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        "providers": {"idp": provider},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "idp"}}]}}


def oauth2_filter(idp):
    """Envoy's native OAuth2 filter against the same IdP and client."""
    return {"name": "envoy.filters.http.oauth2", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.oauth2.v3.OAuth2",
        "config": {
            "token_endpoint": {"cluster": "idp", "uri": f"{idp.issuer}/token", "timeout": "5s"},
            "authorization_endpoint": f"{idp.issuer}/auth",
            "redirect_uri": "http://%REQ(:authority)%/callback",
            "redirect_path_matcher": {"path": {"exact": "/callback"}},
            "signout_path": {"path": {"exact": "/signout"}},
            "credentials": {"client_id": "web", "token_secret": {"name": "oauth2-token"},
                            "hmac_secret": {"name": "oauth2-hmac"}},
            "auth_scopes": ["openid", "email", "profile"],
            "auth_type": "BASIC_AUTH",
            "forward_bearer_token": True,
        }}}


def prove_filters_run(ports, auth, opaque, ed_token):
    """Each filter really runs: a request without credentials does not pass where one with
    them does (or, for the no-op floor, its response mark is there)."""
    for name in ("jwt_authn", "jwt_authn_cache", "gate", "gate_nocache", "gate_introspect", "gate_refresh", "cmp",
                 "cmp_nocache"):
        if name not in ports:
            continue
        assert request(ports[name], "GET", "/", {"accept": "application/json"}).status == 401, name
        good = f"Bearer {opaque}" if name == "gate_introspect" else auth.split(" ", 1)[1]
        if name != "gate_refresh":
            assert request(ports[name], "GET", "/", {"authorization": good}).status == 200, name
    for name in ("gate_nocache", "jwt_authn"):
        assert request(ports[name], "GET", "/", {"authorization": f"Bearer {ed_token}"}).status == 200, f"{name} EdDSA"
    assert request(ports["oauth2"], "GET", "/", {"accept": "text/html"}).status == 302, "oauth2 without cookies"
    assert request(ports["noop"], "GET", "/").headers.get("x-noop") == "1", "the no-op filter runs"


def browser_cookies(port, prefixes, path="/"):
    """Logs in through a listener and returns its cookies padded to about 2.8 KB, as a real site has."""
    b = Browser()
    chain = b.follow(f"http://127.0.0.1:{port}{path}")
    assert chain[-1].status == 200, [(r.status, r.url, r.body[:200]) for r in chain]
    session = "; ".join(f"{k}={v}" for k, v in b.cookies().items() if k.startswith(prefixes))
    assert session, f"no session cookies from the login on port {port}: {list(b.cookies())}"
    padding = "; ".join(f"c{i}={'x' * 90}" for i in range(max(0, 28 - len(session) // 100)))
    return f"cookie: {session}; {padding}"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=5, help="per case and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--wasm", type=Path, default=WASM, help="the filter module to measure")
    ap.add_argument("--compare", type=Path, help="another module, measured beside --wasm")
    ap.add_argument("--no-logins", action="store_true", help="skip the logins-per-second measure")
    ap.add_argument("--pool", type=int, default=10_000, help="distinct tokens for the 2-worker case (0: skip)")
    ap.add_argument("--no-rss", action="store_true", help="skip the RSS-per-listener measure")
    ap.add_argument("--no-report", action="store_true", help="do not write docs/benchmarks.md and .png")
    ap.add_argument("--only", metavar="REGEX", help="measure only the cases whose label matches (a quick check; implies --no-report)")
    args = ap.parse_args()
    modules = {"gate": args.wasm.resolve()}
    if args.compare:
        modules["cmp"] = args.compare.resolve()

    work = Path(tempfile.mkdtemp(prefix="oidc-gate-bench-"))
    names = ["plain", "noop", "jwt_authn", "jwt_authn_cache", "oauth2", "gate_nocache", "gate_refresh",
             "gate_introspect", "gate_backchannel", *modules, *(f"{m}_nocache" for m in modules if m != "gate")]
    ports = {name: free_port() for name in names}
    idp = Idp(work, extra=["--redirect-uri", f"http://127.0.0.1:{ports['gate']}/oauth2/callback",
                           "--redirect-uri", f"http://127.0.0.1:{ports['gate_refresh']}/oauth2/callback",
                           "--redirect-uri", f"http://127.0.0.1:{ports['gate_backchannel']}/oauth2/callback",
                           "--redirect-uri", f"http://127.0.0.1:{ports['oauth2']}/callback",
                           # Tokens live an hour: a run of many rounds outlasts the default 10 min.
                           "--refresh-tokens", "--eddsa", "--access-token-ttl", "3600"]).start()
    es_token = idp.client_credentials(resource="api://orders-es256")
    token = idp.client_credentials()
    # EdDSA: the IdP's Ed25519 key signs the same claims (its token endpoint signs RS256/ES256).
    ed_token = idp.sign(json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==")), alg="EdDSA")
    opaque = idp.opaque_token()
    base_cfg = {
        "issuer": idp.issuer, "idp_cluster": "idp", "client_id": "web", "client_secret": "test-secret",
        "bearer": {"audiences": ["api://orders", "api://orders-es256"]},
        "identity_headers": {"x-user-id": "sub", "x-user-email": "email", "x-user-name": "name"},
        "bypass": [{"prefix": "/healthz"}],
        "session": {"keys": [base64.b64encode(os.urandom(32)).decode()]},
    }
    no_cache_cfg = {**base_cfg, "bearer": {**base_cfg["bearer"], "cache_size": 0}}
    # Sessions that keep a refresh token (the IdP's access tokens live an hour: never due here).
    refresh_cfg = {**base_cfg, "session": {**base_cfg["session"], "refresh": True, "refresh_margin": "30s"}}
    # Back-channel logout on: each session request reads the logouts' version in shared data.
    backchannel_cfg = {**base_cfg, "backchannel_logout_path": "/oauth2/backchannel-logout"}
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
                 direct_listener("gate_introspect", ports["gate_introspect"], own_vm(introspect_cfg, "introspect")),
                 backchannel_listener(ports["gate_backchannel"], own_vm(backchannel_cfg, "backchannel")),
                 direct_listener("noop", ports["noop"], [noop_filter()]),
                 direct_listener("jwt_authn", ports["jwt_authn"], [jwt_authn(idp, cache=False)]),
                 direct_listener("jwt_authn_cache", ports["jwt_authn_cache"], [jwt_authn(idp, cache=True)]),
                 direct_listener("oauth2", ports["oauth2"], [oauth2_filter(idp)])]
    for name, path in modules.items():
        if name != "gate":
            f = envoycfg.wasm_filter(path, no_cache_cfg)
            f["typed_config"]["config"]["vm_config"]["vm_id"] = f"oidc-gate-{name}-nocache"
            listeners.append(direct_listener(f"{name}_nocache", ports[f"{name}_nocache"], [f]))
        # Each module gets its own VM (vm_id), so the two never share state.
        f = envoycfg.wasm_filter(path, base_cfg)
        f["typed_config"]["config"]["vm_config"]["vm_id"] = f"oidc-gate-{name}"
        listeners.append(direct_listener(name, ports[name], [f]))
    admin = free_port()
    cfg_path = work / "bench-envoy.json"
    boot = envoycfg.bootstrap(admin, listeners, [envoycfg.cluster("idp", idp.port)])
    boot["static_resources"]["secrets"] = [
        {"name": "oauth2-token", "generic_secret": {"secret": {"inline_string": "test-secret"}}},
        {"name": "oauth2-hmac", "generic_secret": {"secret": {"inline_string": base64.b64encode(os.urandom(32)).decode()}}},
    ]
    cfg_path.write_text(json.dumps(boot))
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
        cookies = browser_cookies(ports["gate"], ("__Host-oidc_session",))
        # The same for the refresh listener: its session holds a refresh token too.
        rcookies = browser_cookies(ports["gate_refresh"], ("__Host-oidc_session",))
        # With back-channel logout on, and three logouts of other people recorded (so every
        # request also looks its session up in the worker's copy of the list).
        bcookies = browser_cookies(ports["gate_backchannel"], ("__Host-oidc_session",))
        for n in range(3):
            logout = idp.sign({"iss": idp.issuer, "aud": "web", "iat": int(time.time()), "jti": f"bench-{n}",
                               "sub": f"someone-{n}", "events": {"http://schemas.openid.net/event/backchannel-logout": {}}},
                              header={"typ": "logout+jwt"})
            done = request(ports["gate_backchannel"], "POST", "/oauth2/backchannel-logout",
                           {"content-type": "application/x-www-form-urlencoded"}, f"logout_token={logout}".encode())
            assert done.status == 200, done
        # Envoy's oauth2 filter: its cookies from a real login through it.
        ocookies = browser_cookies(ports["oauth2"], ("BearerToken", "OauthHMAC", "OauthExpires", "IdToken", "RefreshToken"))
        prove_filters_run(ports, auth, opaque, ed_token)
        cases = [("no filter, API request with bearer token", "plain", [auth], "/", "api"),
                 ("no-op wasm filter (the floor), API request", "noop", [auth], "/", "api"),
                 ("native jwt_authn, RS256, no cache", "jwt_authn", [auth], "/", "api"),
                 ("native jwt_authn, RS256, jwt_cache_config", "jwt_authn_cache", [auth], "/", "api")]
        for m in modules:
            tag = "" if m == "gate" else f" [{args.compare.name}]"
            cases += [
                (f"oidc-gate{tag}, valid bearer (cache hit)", m, [auth], "/", "api"),
                (f"oidc-gate{tag}, no token -> 401", m, ["accept: application/json"], "/", "api"),
                (f"oidc-gate{tag}, bypassed path", m, [], "/healthz", "api"),
            ]
        for m in modules:
            if m == "gate":
                continue
            tag = f" [{args.compare.name}]"
            cases += [(f"oidc-gate{tag}, cache off: RS256 verify each request", f"{m}_nocache", [auth], "/", "api"),
                      (f"oidc-gate{tag}, cache off: ES256 verify each request", f"{m}_nocache",
                       [f"authorization: Bearer {es_token}"], "/", "api"),
                      (f"oidc-gate{tag}, cache off: EdDSA verify each request", f"{m}_nocache",
                       [f"authorization: Bearer {ed_token}"], "/", "api")]
        cases += [("oidc-gate, cache off: RS256 verify each request", "gate_nocache", [auth], "/", "api"),
                  ("oidc-gate, cache off: ES256 verify each request", "gate_nocache",
                   [f"authorization: Bearer {es_token}"], "/", "api"),
                  ("native jwt_authn, ES256, no cache", "jwt_authn", [f"authorization: Bearer {es_token}"], "/", "api"),
                  ("oidc-gate, cache off: EdDSA verify each request", "gate_nocache",
                   [f"authorization: Bearer {ed_token}"], "/", "api"),
                  ("native jwt_authn, EdDSA, no cache", "jwt_authn", [f"authorization: Bearer {ed_token}"], "/", "api"),
                  ("oidc-gate, cached introspected opaque token", "gate_introspect",
                   [f"authorization: Bearer {opaque}"], "/", "api")]
        cases.append(("no filter, browser request, 2.8 KB cookies", "plain", [cookies], "/", "browser"))
        cases.append(("no-op wasm filter (the floor), browser request", "noop", [cookies], "/", "browser"))
        cases.append(("native oauth2, session cookies, 2.8 KB cookies", "oauth2", [ocookies], "/", "browser"))
        for m in modules:
            tag = "" if m == "gate" else f" [{args.compare.name}]"
            cases.append((f"oidc-gate{tag}, valid session cookie, 2.8 KB cookies", m, [cookies], "/", "browser"))
        cases.append(("oidc-gate, session with refresh on (not due)", "gate_refresh", [rcookies], "/", "browser"))
        cases.append(("oidc-gate, session with back-channel logout on (3 logouts)", "gate_backchannel", [bcookies], "/",
                      "browser"))
        if args.only:
            args.no_report = True
            cases = [c for c in cases if c[0].startswith("no filter") or re.search(args.only, c[0])]
        for label, listener, headers, path, _shape in cases:
            wrk(ports[listener], 1, args.connections, headers, path)  # warm-up
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
        logins = None if args.no_logins else measure_logins(ports["gate"], seconds=min(args.seconds * 2, 10))
        envoy.stop()
        extra = {}
        if not args.no_rss:
            extra["rss"] = measure_rss(work, idp, modules, base_cfg, auth, args.seconds)
        if args.pool:
            tokens = mint_pool(idp, token, args.pool)
            seconds = max(args.seconds * 2, 10)
            extra["pool"] = measure_many_tokens(work, idp, modules, base_cfg, tokens, seconds)
        lines, medians = report(args, modules, cases, samples, envoy, logins, extra)
        if not args.no_report:
            write_report(lines, medians, cases)
    finally:
        envoy.stop()
        idp.stop()


TARGETS = [  # (what, numerator case, denominator case, target or None)
    ("session cookie vs native oauth2", "oidc-gate, valid session cookie, 2.8 KB cookies",
     "native oauth2, session cookies, 2.8 KB cookies", 1.10),
    ("session cookie vs the wasm floor (browser)", "oidc-gate, valid session cookie, 2.8 KB cookies",
     "no-op wasm filter (the floor), browser request", 0.95),
    ("bearer cache hit vs the wasm floor (API)", "oidc-gate, valid bearer (cache hit)",
     "no-op wasm filter (the floor), API request", 0.97),
    ("bearer cache miss RS256 vs native jwt_authn (no cache)", "oidc-gate, cache off: RS256 verify each request",
     "native jwt_authn, RS256, no cache", 0.75),
    ("bearer cache miss ES256 vs native jwt_authn (no cache)", "oidc-gate, cache off: ES256 verify each request",
     "native jwt_authn, ES256, no cache", None),
    ("bearer cache miss EdDSA vs native jwt_authn (no cache)", "oidc-gate, cache off: EdDSA verify each request",
     "native jwt_authn, EdDSA, no cache", None),
    ("session with refresh on (not due) vs without", "oidc-gate, session with refresh on (not due)",
     "oidc-gate, valid session cookie, 2.8 KB cookies", None),
    ("session with back-channel logout on vs off", "oidc-gate, session with back-channel logout on (3 logouts)",
     "oidc-gate, valid session cookie, 2.8 KB cookies", None),
    ("cached introspected token vs cached JWT", "oidc-gate, cached introspected opaque token",
     "oidc-gate, valid bearer (cache hit)", None),
]


def report(args, modules, cases, samples, envoy, logins=None, extra=None):
    """Medians per case; each ratio against the no-filter case of the same shape in the same
    round; the targets as per-round ratios of two cases measured side by side."""
    base = {shape: label for label, _, _, _, shape in cases if label.startswith("no filter")}
    out = []
    say = out.append
    say(f"Envoy --concurrency 1 on CPU 0, wrk -t1 -c{args.connections} on CPU 1, {args.rounds} interleaved rounds "
        f"of {args.seconds}s per case; medians (min-max of the per-round ratio).")
    for m, path in modules.items():
        say(f"- {m}: `{path.name}` ({path.stat().st_size:,} bytes)")
    say(f"- no-op floor: `{NOOP_WASM.name}` ({NOOP_WASM.stat().st_size:,} bytes)")
    say(f"- Envoy: `{' '.join(envoy_command())}`\n")
    say(f"| {'case':<62} | {'req/s':>7} | {'vs no filter':>18} | {'Envoy CPU added':>15} |")
    say(f"|{'-' * 64}|{'-' * 9}|{'-' * 20}|{'-' * 17}|")
    medians = {}
    for label, _, _, _, shape in cases:
        rows, base_rows = samples[label], samples[base[shape]]
        r = [a[0] / b[0] for a, b in zip(rows, base_rows)]
        added = [a[1] - b[1] for a, b in zip(rows, base_rows)]
        rps = statistics.median(x[0] for x in rows)
        medians[label] = statistics.median(r)
        say(f"| {label:<62} | {rps:>7.0f} | {statistics.median(r):>5.2f} ({min(r):.2f}-{max(r):.2f}) | "
            f"{statistics.median(added):>+10.1f} us |")
    say("\n| target | ratio (min-max) | target | met |")
    say("|---|---|---|---|")
    for what, num, den, target in TARGETS:
        if num not in samples or den not in samples:
            continue
        per_round = [a[0] / b[0] for a, b in zip(samples[num], samples[den])]
        med = statistics.median(per_round)
        met = "" if target is None else ("yes" if med >= target else "no")
        say(f"| {what} | {med:.2f} ({min(per_round):.2f}-{max(per_round):.2f}) | "
            f"{'' if target is None else f'>= {target:.2f}'} | {met} |")
    extra = extra or {}
    say("\n| size and memory | value | target | met |")
    say("|---|---|---|---|")
    for m, path in modules.items():
        size = path.stat().st_size
        say(f"| `{path.name}` size | {size:,} bytes ({size / 1024:.0f} KiB) | <= 500 KiB | {'yes' if size <= 500 * 1024 else 'no'} |")
    say(f"| no-op floor `{NOOP_WASM.name}` size | {NOOP_WASM.stat().st_size:,} bytes | | |")
    rss = extra.get("rss")
    if rss:
        floor = rss["noop"] - rss["plain"]
        say(f"| RSS of Envoy with one listener, no filter, after load | {rss['plain'] / 1024:.1f} MiB | | |")
        say(f"| RSS added by the no-op wasm floor | {floor / 1024:.1f} MiB | | |")
        for m in modules:
            added = rss[m] - rss["plain"]
            ratio = added / floor if floor > 0 else float("inf")
            say(f"| RSS added by oidc-gate [{m}] | {added / 1024:.1f} MiB ({ratio:.2f}x the floor's) | <= 1.30x | "
                f"{'yes' if ratio <= 1.3 else 'no'} |")
    pool = extra.get("pool")
    if pool:
        for m, r in pool.items():
            per = r["verified"] / max(r["tokens"], 1)
            say(f"| {r['tokens']:,} distinct tokens, --concurrency 2 [{m}]: verifications per token per Envoy | "
                f"{per:.3f} ({r['verified']:.0f} verified, {r['shared_hit']:,} shared hits, {r['requests']:,} requests, "
                f"{r['rps']:.0f} req/s) | 1 | {'yes' if per <= 1.01 else 'no'} |")
    if logins is not None:
        say(f"\nComplete browser logins through Envoy (302, IdP auto-login, callback, code exchange, 302, 200), one "
            f"client, the IdP on the same 2 cores: {logins:.1f}/s")
    if len(modules) > 1:
        say(f"\n{args.compare.name} against {args.wasm.name}, same rounds (median of per-round ratios of req/s):")
        for label, listener, _, _, _ in cases:
            if not listener.startswith("cmp"):
                continue
            mine = label.replace(f" [{args.compare.name}]", "")
            per_round = [a[0] / b[0] for a, b in zip(samples[label], samples[mine])]
            say(f"  {mine.replace('oidc-gate, ', ''):<40} {statistics.median(per_round):.3f} "
                f"({min(per_round):.3f}-{max(per_round):.3f})")
    print("\n" + "\n".join(out))
    return out, medians


def write_report(lines, medians, cases):
    """docs/benchmarks.md (the table, the machine, the command) and docs/benchmarks.png."""
    docs = Path(__file__).resolve().parents[1] / "docs"
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    md = ["# Benchmarks", "",
          "Measured by `scripts/bench` (this file and the chart are its output; run it on an idle machine).", "",
          f"Machine: {os.cpu_count()} CPUs ({cpu}), {time.strftime('%Y-%m-%d')}. Command: `scripts/bench "
          f"{' '.join(sys.argv[1:])}`.", "", *lines, "",
          "![requests per second relative to no filter](benchmarks.png)", ""]
    (docs / "benchmarks.md").write_text("\n".join(md))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels = [c[0] for c in cases if not c[0].startswith("no filter") and "[" not in c[0]]
    values = [medians[label] for label in labels]
    colors = ["#4c72b0" if label.startswith("oidc-gate") else "#999999" for label in labels]
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(labels) + 1.2))
    ax.barh(range(len(labels)), values, color=colors)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("requests/s relative to Envoy without a filter (same request shape, same round)")
    for i, v in enumerate(values):
        ax.text(v + 0.01, i, f"{v:.2f}", va="center", fontsize=8)
    ax.set_title("oidc-gate (blue) vs the wasm floor and Envoy's native filters (grey)")
    fig.tight_layout()
    fig.savefig(docs / "benchmarks.png", dpi=110)
    print(f"\nwrote {docs / 'benchmarks.md'} and {docs / 'benchmarks.png'}")


if __name__ == "__main__":
    main()
