"""Bearer-token validation and identity headers, end to end: the real Envoy running the
built filter, the real OpenID provider, and the echo upstream."""
import base64
import hashlib
import hmac
import json
import time
import urllib.request

import pytest


def api_config(idp, **overrides):
    cfg = {
        "issuer": idp.issuer,
        "idp_cluster": "idp",
        "client_id": "web",
        "bearer": {"audiences": ["api://orders", "api://orders-es256"]},
        "identity_headers": {"x-user-id": "sub", "x-client-id": "client_id", "x-user-scope": "scope", "x-user-email": "email"},
        "bypass": [{"prefix": "/healthz"}],
        "jwks_refetch_min_interval": "1s",
    }
    cfg.update(overrides)
    return cfg


@pytest.fixture
def api(rig):
    idp = rig.idp().start()
    envoy = rig.envoy(api_config(idp), idp.port)
    return idp, envoy


def bearer(token):
    return {"authorization": f"Bearer {token}"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(idp, **overrides):
    now = int(time.time())
    c = {"iss": idp.issuer, "sub": "svc-1", "aud": "api://orders", "iat": now, "exp": now + 300, "client_id": "service"}
    c.update(overrides)
    return {k: v for k, v in c.items() if v is not None}


@pytest.mark.parametrize("resource,alg", [("api://orders", "RS256"), ("api://orders-es256", "ES256")])
def test_client_credentials_token_is_accepted_and_identity_reaches_the_app(api, resource, alg):
    idp, envoy = api
    token = idp.client_credentials(resource=resource)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert header["alg"] == alg

    r = envoy.get("/orders/42", {**bearer(token), "x-user-id": "admin"})
    assert r.status == 200, r
    seen = r.json()["headers"]
    assert seen["x-user-id"] == payload["sub"] == "service"
    assert seen["x-client-id"] == "service"
    assert seen["x-user-scope"] == "api"
    assert seen["authorization"] == f"Bearer {token}"

    # The second request is served from the verified-token cache.
    before = envoy.stats()
    assert envoy.get("/orders/43", bearer(token)).status == 200
    after = envoy.stats()
    assert after["oidc_gate.token_cache.hit"] == before["oidc_gate.token_cache.hit"] + 1
    assert after["oidc_gate.allowed.bearer"] == before["oidc_gate.allowed.bearer"] + 1


def test_eddsa_token_from_the_idp_is_accepted_and_a_forged_one_refused(rig):
    # The IdP's Ed25519 key (Node's crypto signs) against the filter's check (ed25519-dalek).
    idp = rig.idp(extra=["--eddsa"]).start()
    envoy = rig.envoy(api_config(idp), idp.port)
    token = idp.sign(claims_for(idp, sub="ed-user"), alg="EdDSA")
    h, p, s = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(h + "=="))["alg"] == "EdDSA"
    r = envoy.get("/orders/7", bearer(token))
    assert r.status == 200, r
    assert r.json()["headers"]["x-user-id"] == "ed-user"

    sig = bytearray(base64.urlsafe_b64decode(s + "=="))
    sig[40] ^= 0x01  # one bit of S
    flipped = f"{h}.{p}.{b64(bytes(sig))}"
    swapped = f"{h}.{b64(json.dumps(claims_for(idp, sub='admin')).encode())}.{s}"
    for name, forged in [("flipped", flipped), ("swapped", swapped)]:
        before = envoy.stats()
        r = envoy.get("/orders/7", bearer(forged))
        assert r.status == 401, f"{name}: {r}"
        assert 'error="invalid_token"' in r.headers["www-authenticate"], name
        after = envoy.stats()
        counter = "oidc_gate.denied.invalid_token.bad_signature"
        assert after.get(counter, 0) == before.get(counter, 0) + 1, name
    assert envoy.get("/orders/8", bearer(token)).status == 200


def test_spoofed_identity_headers_never_reach_the_upstream(api):
    idp, envoy = api
    spoof = {"x-user-id": "admin", "x-client-id": "root", "X-User-Scope": "everything"}
    # Bypassed path: let through, but without the client's identity headers.
    r = envoy.get("/healthz", spoof)
    assert r.status == 200, r
    seen = r.json()["headers"]
    assert "x-user-id" not in seen and "x-client-id" not in seen and "x-user-scope" not in seen
    # A bypass rule never matches a path that only looks like it after normalization tricks,
    # including path parameters that servers like Tomcat strip (`..;` is `..` to them).
    for trick in ("/healthz/%2e%2e/admin", "/healthz/..;/admin", "/healthz/..%3B/admin", "/healthz/%252e%252e/admin"):
        r = envoy.get(trick, spoof)
        assert r.status == 401, (trick, r)
    # Authenticated: the headers carry the token's claims, once, not the client's values.
    r = envoy.get("/orders", {**bearer(idp.client_credentials()), **spoof})
    assert r.status == 200, r
    seen = r.json()["headers"]
    assert seen["x-user-id"] == "service" and seen["x-client-id"] == "service" and seen["x-user-scope"] == "api"
    # Sent twice, in two spellings: still exactly the token's value, once.
    token = idp.client_credentials()
    twice = [("authorization", f"Bearer {token}"), ("x-user-id", "admin"), ("X-User-Id", "root"), ("x-user-id", "x")]
    r = envoy.get("/orders", twice)
    assert r.status == 200, r
    assert r.json()["headers"]["x-user-id"] == "service"
    r = envoy.get("/healthz", twice)
    assert "x-user-id" not in r.json()["headers"]
    # A claim the token lacks: the client's header is removed, not passed on.
    no_scope = idp.sign(claims_for(idp, scope=None))
    r = envoy.get("/orders", [("authorization", f"Bearer {no_scope}"), ("x-user-scope", "everything")])
    assert r.status == 200, r
    assert "x-user-scope" not in r.json()["headers"]
    # The same token again (a cache hit), the header sent twice in two cases and once with
    # underscores: each removed, none passed on.
    lines = [("X-User-Scope", "everything"), ("authorization", f"Bearer {no_scope}"), ("x-user-scope", "all"),
             ("x_user_scope", "root")]
    for _ in range(2):
        r = envoy.get("/orders", lines)
        assert r.status == 200, r
        assert not {k.lower() for k in r.json()["headers"]} & {"x-user-scope", "x_user_scope"}, r.json()["headers"]


def test_identity_headers_spelled_with_underscores_never_reach_the_app(api):
    """CGI, WSGI and Rack servers read X_User_Email as X-User-Email (CVE-2024-45614): with a
    token that has no email claim, a client-sent X_User_Email must not pass as the email.
    (The rig's Envoy allows underscores, as Envoy does by default; the samples reject them.)"""
    idp, envoy = api
    spoofs = [("X_User_Email", "ceo@corp.example"), ("x-user_email", "ceo"), ("x_user_id", "admin"), ("X_Client_Id", "root")]
    for path in ("/orders", "/healthz"):
        r = envoy.get(path, [("authorization", f"Bearer {idp.client_credentials()}"), *spoofs])
        assert r.status == 200, r
        seen = {k.lower() for k in r.json()["headers"]}
        assert not seen & {"x_user_email", "x-user_email", "x_user_id", "x_client_id"}, seen
        assert "x-user-email" not in seen
        if path == "/orders":
            assert r.json()["headers"]["x-user-id"] == "service"


def test_no_token_gets_401_with_a_bearer_challenge(api):
    _, envoy = api
    r = envoy.get("/orders")
    assert r.status == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="oidc-gate"'
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"] == "unauthenticated"
    # Another scheme is not a bearer token.
    assert envoy.get("/orders", {"authorization": "Basic dXNlcjpwYXNz"}).status == 401


def test_bad_tokens_get_401_invalid_token(api):
    idp, envoy = api
    now = int(time.time())
    good = idp.client_credentials()
    h, p, s = good.split(".")
    with urllib.request.urlopen(idp.issuer + "/jwks") as resp:
        jwks = json.loads(resp.read())
    rsa_public = json.dumps(next(k for k in jwks["keys"] if k["kty"] == "RSA"))
    hs_header = b64(json.dumps({"alg": "HS256", "kid": jwks["keys"][0]["kid"]}).encode())
    hs_payload = b64(json.dumps(claims_for(idp)).encode())
    hs_sig = b64(hmac.new(rsa_public.encode(), f"{hs_header}.{hs_payload}".encode(), hashlib.sha256).digest())
    none_header = b64(json.dumps({"alg": "none"}).encode())
    tampered_payload = b64(json.dumps({**json.loads(base64.urlsafe_b64decode(p + "==")), "sub": "admin"}).encode())

    cases = {
        "expired": (idp.sign(claims_for(idp, iat=now - 1000, exp=now - 500)), "expired"),
        "not_yet_valid": (idp.sign(claims_for(idp, nbf=now + 600)), "not_yet_valid"),
        "wrong_issuer": (idp.sign(claims_for(idp, iss="https://evil.example.com")), "unknown_issuer"),
        "wrong_audience": (idp.sign(claims_for(idp, aud="api://payments")), "wrong_audience"),
        "bad_signature": (f"{h}.{tampered_payload}.{s}", "bad_signature"),
        "alg_none": (f"{none_header}.{hs_payload}.", "disallowed_alg"),
        "hs256_with_public_key": (f"{hs_header}.{hs_payload}.{hs_sig}", "disallowed_alg"),
        "unknown_kid": (idp.sign(claims_for(idp), header={"kid": "no-such-key"}), "unknown_key"),
        "garbage": ("not-a-jwt", "malformed"),
        "garbage_three_parts": ("a.b.c", "malformed"),
    }
    for name, (token, reason) in cases.items():
        if name == "unknown_kid":
            time.sleep(1.1)  # past jwks_refetch_min_interval since the startup fetch
        before = envoy.stats()
        r = envoy.get("/orders", bearer(token))
        assert r.status == 401, f"{name}: {r}"
        assert 'error="invalid_token"' in r.headers["www-authenticate"], name
        assert r.json()["error"] == "invalid_token", name
        after = envoy.stats()
        counter = f"oidc_gate.denied.invalid_token.{reason}"
        assert after.get(counter, 0) == before.get(counter, 0) + 1, f"{name}: {counter}"
        if name == "unknown_kid":
            # The filter re-fetched the JWKS before refusing.
            assert after["oidc_gate.idp.jwks_fetch"] == before["oidc_gate.idp.jwks_fetch"] + 1
    # The good token still works.
    assert envoy.get("/orders", bearer(good)).status == 200


def test_grpc_request_without_token_gets_unauthenticated(api):
    _, envoy = api
    r = envoy.request("POST", "/orders.v1.Orders/Get", {"content-type": "application/grpc", "te": "trailers"}, b"\x00\x00\x00\x00\x00")
    assert r.headers.get("grpc-status") == "16", r
    assert r.status == 200


def test_key_rotation_needs_no_restart(api):
    idp, envoy = api
    assert envoy.get("/orders", bearer(idp.client_credentials())).status == 200
    old_kids = idp.kids()
    idp.rotate_keys()
    assert not set(old_kids) & set(idp.kids())
    time.sleep(1.1)  # jwks_refetch_min_interval in this config
    fresh = idp.client_credentials()
    r = envoy.get("/orders", bearer(fresh))
    assert r.status == 200, r
    assert r.json()["headers"]["x-user-id"] == "service"
    assert envoy.proc.alive()


def test_idp_down_at_start_gives_503_then_recovers(rig):
    idp = rig.idp().start()
    token = idp.client_credentials()
    idp.stop()
    envoy = rig.envoy(api_config(idp), idp.port)
    started = time.monotonic()
    r = envoy.get("/orders", bearer(token))
    took = time.monotonic() - started
    assert r.status == 503, r
    assert took < 8, f"waited {took:.1f}s"
    assert r.json()["error"] == "temporarily_unavailable"
    assert envoy.stats()["oidc_gate.denied.idp_unavailable"] >= 1
    # Without a token, the answer is still 401, not 503.
    assert envoy.get("/orders").status == 401
    idp.start()  # same port, same keys
    deadline = time.monotonic() + 40
    status = None
    while time.monotonic() < deadline:
        status = envoy.get("/orders", bearer(token)).status
        if status == 200:
            break
        assert status == 503
        time.sleep(0.5)
    assert status == 200
    assert "discovery fetch failed" in envoy.proc.log()


def test_requests_before_the_first_keys_wait_and_then_pass(rig):
    idp = rig.idp(extra=["--metadata-delay-ms", "800"]).start()  # discovery, then JWKS: 1.6 s
    token = idp.client_credentials()
    envoy = rig.envoy(api_config(idp), idp.port, start=False)
    envoy.start(wait=False)
    from rig.procs import wait_for_port
    wait_for_port(envoy.port, 30, envoy.proc.popen)
    started = time.monotonic()
    r = envoy.get("/orders", bearer(token))
    took = time.monotonic() - started
    assert r.status == 200, r
    assert 0.3 < took < 5, f"answered after {took:.2f}s: it should have waited for discovery and JWKS"
    assert r.json()["headers"]["x-user-id"] == "service"


@pytest.mark.parametrize("config_change,field_message", [
    ({"bearer": {"audence": ["x"]}}, "oidc-gate: config error: bearer.audence: unknown key"),
    ({"issuer": None}, "oidc-gate: config error: issuer: required: the OpenID provider's issuer URL"),
    ({"client_secret": {"env": "NOT_SET_ANYWHERE"}}, 'oidc-gate: config error: client_secret.env: names an environment variable that is not set in the VM'),
])
def test_bad_config_is_rejected_by_envoy(rig, config_change, field_message):
    cfg = api_config(type("I", (), {"issuer": "http://127.0.0.1:1"})())
    for k, v in config_change.items():
        if v is None:
            cfg.pop(k)
        else:
            cfg[k] = v
    envoy = rig.envoy(cfg, 1, start=False).start(wait=False)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and envoy.proc.alive() and field_message not in envoy.proc.log():
        time.sleep(0.1)
    log = envoy.proc.log()
    assert field_message in log
    # Envoy refuses the filter: it exits instead of serving traffic.
    envoy.proc.popen.wait(timeout=30)
    assert envoy.proc.popen.returncode != 0


def test_client_secret_from_the_vm_environment(rig):
    idp = rig.idp().start()
    cfg = api_config(idp, client_secret={"env": "OIDC_CLIENT_SECRET"})
    envoy = rig.envoy(cfg, idp.port, env={"OIDC_CLIENT_SECRET": "from-env"})
    assert envoy.get("/orders", bearer(idp.client_credentials())).status == 200
    assert "from-env" not in envoy.proc.log()


def test_tokens_from_a_second_issuer_on_its_own_cluster(rig):
    main = rig.idp().start()
    other_dir = rig.log_dir / "other"
    other_dir.mkdir()
    from rig.harness import Idp
    other = Idp(other_dir)
    rig.started.append(other)
    other.start()
    cfg = api_config(main, bearer={
        "audiences": ["api://orders"],
        "issuers": [{"issuer": other.issuer, "audiences": ["api://orders-es256"]}],
    }, idp_clusters={f"127.0.0.1:{other.port}": "idp_other"})
    envoy = rig.envoy(cfg, main.port, start=False)
    # Add the second IdP's cluster to the bootstrap.
    boot = json.loads(envoy.config_path.read_text())
    from rig import envoycfg
    boot["static_resources"]["clusters"].append(envoycfg.cluster("idp_other", other.port))
    envoy.config_path.write_text(json.dumps(boot))
    envoy.start()
    r = envoy.get("/orders", bearer(other.client_credentials(resource="api://orders-es256")))
    assert r.status == 200, r
    # The second issuer's own audience only; and the first issuer's keys do not sign for it.
    r = envoy.get("/orders", bearer(other.client_credentials(resource="api://orders")))
    assert r.status == 401 and "not meant for this audience" in r.headers["www-authenticate"]
    forged = main.sign(claims_for(main, iss=other.issuer, aud="api://orders-es256"))
    r = envoy.get("/orders", bearer(forged))
    assert r.status == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    assert envoy.get("/orders", bearer(main.client_credentials())).status == 200


def test_header_bytes_that_are_not_utf8_are_refused_without_crashing_the_vm(api):
    idp, envoy = api
    import http.client
    token = idp.client_credentials()
    for name, value in ((b"authorization", b"Bearer \xff\xfe"), (b"cookie", b"a=\xff"), (b"accept", b"text/\xe9html")):
        conn = http.client.HTTPConnection("127.0.0.1", envoy.port, timeout=10)
        conn.putrequest("GET", "/orders")
        conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status == 401, (name, resp.status)
    # The worker's VM is still alive and serving.
    r = envoy.get("/orders", bearer(token))
    assert r.status == 200, r


def test_grpc_over_http2_gets_a_trailers_only_unauthenticated(api):
    """A real HTTP/2 gRPC call (curl, prior knowledge): no token ends as grpc-status 16 in a
    trailers-only response; a valid token goes through."""
    import subprocess
    idp, envoy = api

    def call(extra):
        # The request ends with its headers: a denial answered while curl still uploads a
        # body is reset by Envoy (NO_ERROR, as HTTP/2 allows), which curl reports as exit 92.
        out = subprocess.run(
            ["curl", "-s", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", "-X", "POST",
             "-H", "content-type: application/grpc", "-H", "te: trailers", *extra,
             f"http://127.0.0.1:{envoy.port}/orders.v1.Orders/Get"], capture_output=True, timeout=20)
        assert out.returncode == 0, (out.returncode, out.stderr)
        return out.stdout.decode().lower()

    denied = call([])
    assert denied.startswith("http/2 200"), denied
    assert "grpc-status: 16" in denied and "location:" not in denied
    allowed = call(["-H", f"authorization: Bearer {idp.client_credentials()}"])
    assert allowed.startswith("http/2 200") and "grpc-status" not in allowed, allowed


def test_a_ten_megabyte_jwks_is_refused_unread_and_the_keys_load_once_it_is_normal(rig):
    """A JWKS of 10 MB (valid JSON: an empty key set padded with spaces) is refused by its
    size without the filter reading it (MAX_CALLOUT_BODY, 1 MiB): no keys from it, the fetch
    counted as a failure; the next normal answer loads the keys."""
    idp = rig.idp().start()
    token = idp.client_credentials()
    idp.fault(paths=["/jwks"], huge_bytes=10 * 1024 * 1024)
    envoy = rig.envoy(api_config(idp, startup_wait="1s"), idp.port)
    r = envoy.get("/orders", bearer(token))
    assert r.status == 503 and r.json()["error"] == "temporarily_unavailable", r
    assert envoy.stats()["oidc_gate.idp.jwks_failure"] >= 1
    assert "JWKS fetch failed: HTTP status 413" in envoy.proc.log()
    idp.fault()
    deadline = time.monotonic() + 20
    while envoy.get("/orders", bearer(token)).status != 200:
        assert time.monotonic() < deadline, "keys never loaded after the JWKS was normal again"
        time.sleep(0.5)


def test_each_token_is_verified_once_per_envoy_not_once_per_worker(rig):
    """Two workers, 60 distinct genuine tokens, each sent 5 times on fresh connections (Envoy
    spreads them over its workers): the filter's counters show 60 verifications in all, the
    other workers' misses answered from the verified-token cache they share."""
    from concurrent.futures import ThreadPoolExecutor

    idp = rig.idp().start()
    envoy = rig.envoy(api_config(idp), idp.port, concurrency=2)
    tokens = [idp.sign(claims_for(idp, sub=f"user-{i}", jti=f"t-{i}")) for i in range(60)]
    assert envoy.get("/orders", {"accept": "application/json"}).status == 401

    def call(i):
        r = envoy.get("/orders", bearer(tokens[i % len(tokens)]))
        return r.status, r.json()["headers"]["x-user-id"] if r.status == 200 else None

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(len(tokens) * 5)))
    assert results == [(200, f"user-{i % len(tokens)}") for i in range(len(tokens) * 5)]
    s = envoy.stats()
    assert s["oidc_gate.token_cache.shared_miss"] == len(tokens), s
    assert s["oidc_gate.token_cache.shared_hit"] >= 1, s
    assert s["oidc_gate.token_cache.miss"] == s["oidc_gate.token_cache.shared_hit"] + len(tokens), s
