"""What the gate signs, end to end against the real Envoy and the real IdP: the signed
identity assertion every allowed request carries (checked with PyJWT against the JWKS the
gate serves), the private_key_jwt client (a login, a refresh and an introspection with no
client secret anywhere; the IdP knows only the client's public key), and CORS preflights.

One IdP and two Envoys serve every test here (module scope), to keep the suite short:
`gate` (assertion, preflights, introspection, a session without refresh) and `renewing`
(a session renewed on every request: 10 s access tokens, a 30 s margin)."""
import base64
import hashlib
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import Rig
from rig.browser import Browser
from test_login import KEY_A, login, login_config

AUDIENCE = "orders-app"
HEADER = "x-oidc-gate-assertion"


def pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_jwk(key) -> dict:
    """The client key's public JWK as registered at the IdP, its kid the RFC 7638 thumbprint
    (what the gate names a PEM key by)."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    members = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True)
    kid = base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=").decode()
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


class Site:
    def __init__(self, idp, gate, renewing):
        self.idp, self.gate, self.renewing = idp, gate, renewing


@pytest.fixture(scope="module")
def site(echo, request):
    r = Rig.fresh("test_assertion", echo)
    log_dir = r.log_dir
    client_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (log_dir / "client-jwks.json").write_text(json.dumps({"keys": [public_jwk(client_key)]}))
    signing, next_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    env = {"CLIENT_KEY": pem(client_key), "ASSERTION_KEY": pem(signing)}
    keyless = {"client_id": "web-jwt", "client_auth": "private_key_jwt", "client_key": {"env": "CLIENT_KEY"}}
    idp = r.idp()
    gate_cfg = login_config(
        idp, **keyless, cors_preflight="allow",
        assertion={"header": HEADER, "signing_keys": [{"env": "ASSERTION_KEY"}, pem(next_key)], "audience": AUDIENCE,
                   "lifetime": "5m"},
        bearer={"audiences": ["api://orders"], "introspection": {"cache_ttl": "60s"}, "client_ids": ["service"]})
    renewing_cfg = login_config(idp, **keyless, session={"keys": [KEY_A], "refresh": True, "refresh_margin": "30s"},
                                forward_access_token=True)
    for cfg in (gate_cfg, renewing_cfg):
        del cfg["client_secret"]
    gate = r.envoy(gate_cfg, idp.port, start=False, env=env, name="gate")
    renewing = r.envoy(renewing_cfg, idp.port, start=False, env=env, name="renewing")
    idp.extra += ["--client-jwks", str(log_dir / "client-jwks.json"), "--refresh-tokens", "--access-token-ttl", "10"]
    for envoy in (gate, renewing):
        idp.extra += ["--redirect-uri", f"{envoy.url}/oauth2/callback"]
    try:
        idp.start()
        gate.start()
        renewing.start()
        yield Site(idp, gate, renewing)
    finally:
        r.stop(print_logs=request.session.testsfailed > 0)


def verified(token, jwks, issuer):
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    return jwt.decode(token, key.key, algorithms=["ES256"], audience=AUDIENCE, issuer=issuer,
                      options={"require": ["exp", "iat", "iss", "aud", "sub"]})


def test_the_upstream_gets_an_assertion_that_verifies_with_the_served_jwks_and_is_signed_once(site):
    envoy = site.gate
    b = Browser()
    login(b, envoy)
    jwks_response = b.get(envoy.url + "/.well-known/oidc-gate/jwks.json")
    assert jwks_response.status == 200 and jwks_response.headers["cache-control"] == "public, max-age=300"
    jwks = jwks_response.json()
    assert len(jwks["keys"]) == 2 and all(k["kty"] == "EC" and "d" not in k for k in jwks["keys"])
    before = envoy.stats()
    seen = []
    for _ in range(5):
        r = b.get(envoy.url + "/orders", {HEADER: "forged", "X_OIDC_GATE_ASSERTION": "forged"})
        assert r.status == 200, r
        headers = r.json()["headers"]
        assert "x_oidc_gate_assertion" not in {k.lower() for k in headers}
        seen.append(headers[HEADER])
    assert len(set(seen)) == 1, "one assertion reused, not re-signed per request"
    claims = verified(seen[0], jwks, envoy.url)
    assert jwt.get_unverified_header(seen[0])["kid"] == jwks["keys"][0]["kid"], "the first key signs"
    assert claims["sub"] == "alice" and claims["email"] == "alice@example.com"
    assert claims["groups"] == ["admins", "dev"] and claims["idp"] == site.idp.issuer
    assert claims["exp"] - claims["iat"] == 300
    after = envoy.stats()
    assert after["oidc_gate.assertion_cache.hit"] - before["oidc_gate.assertion_cache.hit"] >= 4
    assert after["oidc_gate.assertion_cache.miss"] - before["oidc_gate.assertion_cache.miss"] <= 1
    # Tampered or for another app, it does not verify.
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(seen[0], jwt.PyJWKSet.from_dict(jwks)[jwks["keys"][0]["kid"]].key, algorithms=["ES256"],
                   audience="another-app")
    head, body, sig = seen[0].split(".")
    with pytest.raises(jwt.InvalidSignatureError):
        verified(f"{head}.{body}.{sig[:-4]}AAAA", jwks, envoy.url)


def test_a_bypassed_request_carries_no_assertion_and_a_forged_one_is_removed(site):
    r = site.gate.get("/healthz", {HEADER: "forged", "X-Oidc_Gate-Assertion": "forged"})
    assert r.status == 200, r
    assert not [k for k in r.json()["headers"] if k.lower().replace("_", "-") == HEADER]


def test_a_preflight_passes_unauthenticated_and_other_options_requests_do_not(site):
    envoy = site.gate
    preflight = {"origin": "https://spa.example", "access-control-request-method": "POST",
                 "access-control-request-headers": "content-type", HEADER: "forged"}
    r = envoy.request("OPTIONS", "/api/orders", preflight)
    assert r.status == 200, r
    assert r.json()["method"] == "OPTIONS" and HEADER not in r.json()["headers"]
    assert envoy.stats()["oidc_gate.allowed.preflight"] >= 1
    r = envoy.request("OPTIONS", "/api/orders", {"origin": "https://spa.example"})
    assert r.status == 401, r
    r = envoy.request("OPTIONS", "/api/orders", {**preflight, "cookie": "a=b"})
    assert r.status == 401, r
    # A preflight has no body: an app that does not check the method would act on one.
    r = envoy.request("OPTIONS", "/api/orders", {**preflight, "content-type": "application/json"}, b'{"qty": 1}')
    assert r.status == 401, r


def test_a_login_and_an_introspection_work_with_private_key_jwt_and_no_client_secret(site):
    idp, envoy = site.idp, site.gate
    before = idp.stats()
    login(Browser(), envoy)
    assert idp.stats()["token"]["authorization_code"] == before["token"]["authorization_code"] + 1
    opaque = idp.opaque_token()
    r = envoy.get("/api/orders", {"authorization": f"Bearer {opaque}"})
    assert r.status == 200, r
    assert idp.stats()["introspection"] == before["introspection"] + 1
    assert envoy.stats()["oidc_gate.idp.introspection_active"] >= 1


def test_a_session_is_refreshed_with_private_key_jwt(site):
    idp, envoy = site.idp, site.renewing
    b = Browser()
    login(b, envoy)
    before = idp.stats()["token"]["refresh_token"]
    for n in range(2):
        r = b.get(envoy.url + "/page")
        assert r.status == 200, r
        assert idp.stats()["token"]["refresh_token"] == before + n + 1, "each request renews (10 s tokens, 30 s margin)"
        access = r.json()["headers"]["authorization"].removeprefix("Bearer ")
        assert idp.introspect(access)["active"] is True
    assert idp.stats()["invalid_grant"] == 0
