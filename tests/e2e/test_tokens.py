"""Every machine credential our users' tools send, end to end: tokens in Flyte's and
Flower's headers, static API tokens, opaque tokens through introspection (RFC 7662),
device-flow tokens (RFC 8628), and the protected-resource metadata (RFC 9728)."""
import hashlib
import threading
import time

import pytest

API_TOKEN = "ci-secret-token-0123456789"
RESOURCE = "https://api.example.com"
METADATA_URL = f"{RESOURCE}/.well-known/oauth-protected-resource"


def tokens_config(idp, **overrides):
    cfg = {
        "issuer": idp.issuer,
        "idp_cluster": "idp",
        "client_id": "web",
        "client_secret": "test-secret",
        "bearer": {
            "audiences": ["api://orders"],
            "token_headers": ["flyte-authorization", {"header": "flwr-oidc-access-token", "raw": True}],
            "introspection": {"cache_ttl": "2s"},
            "client_ids": ["service", "cli"],
            "api_tokens": [{"name": "ci-bot", "sha256": hashlib.sha256(API_TOKEN.encode()).hexdigest(),
                            "groups": ["ci", "deployers"], "scopes": ["api:read"]}],
        },
        "identity_headers": {"x-user-id": "sub", "x-user-groups": "groups", "x-client-id": "client_id", "x-scope": "scope"},
        "resource_metadata": {"resource": RESOURCE, "scopes_supported": ["api:read", "api"]},
    }
    cfg.update(overrides)
    return cfg


@pytest.fixture
def api(rig):
    idp = rig.idp().start()
    return idp, rig.envoy(tokens_config(idp), idp.port)


def who(r):
    assert r.status == 200, r
    return r.json()["headers"]


def test_tokens_in_flytes_and_flowers_headers_are_accepted_and_passed_on(api):
    idp, envoy = api
    token = idp.client_credentials()
    h = who(envoy.get("/orders", {"flyte-authorization": f"Bearer {token}"}))
    assert h["x-user-id"] == "service" and h["flyte-authorization"] == f"Bearer {token}"
    h = who(envoy.get("/orders", {"flwr-oidc-access-token": token}))
    assert h["x-user-id"] == "service" and h["flwr-oidc-access-token"] == token
    # Authorization wins when both carry a token, even a bad one.
    r = envoy.get("/orders", {"authorization": "Bearer a.b.c", "flyte-authorization": f"Bearer {token}"})
    assert r.status == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    # Sent twice, a good token first: Envoy keeps both (it folds only headers it knows, like
    # Authorization); the filter reads both as one value, no token, and refuses, so an app that
    # reads the second never sees an unchecked one.
    for twice in ([("flyte-authorization", f"Bearer {token}"), ("flyte-authorization", "Bearer forged.x.y")],
                  [("authorization", f"Bearer {token}"), ("authorization", "Bearer forged.x.y")]):
        r = envoy.get("/orders", twice)
        assert r.status == 401 and 'error="invalid_token"' in r.headers["www-authenticate"], (twice[0][0], r)


def test_a_static_api_token_gets_its_name_and_groups_and_a_wrong_one_gets_401(api):
    idp, envoy = api
    h = who(envoy.get("/orders", {"authorization": f"Bearer {API_TOKEN}", "x-user-id": "admin"}))
    assert (h["x-user-id"], h["x-user-groups"], h["x-scope"]) == ("ci-bot", "ci,deployers", "api:read")
    before = idp.stats()["introspection"]
    r = envoy.get("/orders", {"authorization": f"Bearer {API_TOKEN}x"})
    assert r.status == 401 and r.json()["error"] == "invalid_token"
    assert idp.stats()["introspection"] == before + 1, "an unknown token is asked about once"


def test_an_opaque_token_is_introspected_once_for_a_hundred_requests(rig):
    idp = rig.idp().start()
    cfg = tokens_config(idp)
    cfg["bearer"]["introspection"] = {"cache_ttl": "60s"}
    envoy = rig.envoy(cfg, idp.port)
    token = idp.opaque_token()
    before = idp.stats()["introspection"]
    for _ in range(100):
        h = who(envoy.get("/orders", {"authorization": f"Bearer {token}"}))
    assert (h["x-client-id"], h["x-scope"]) == ("service", "api")
    assert idp.stats()["introspection"] - before <= 2, "100 requests, at most 2 calls"
    stats = envoy.stats()
    assert 1 <= stats["oidc_gate.idp.introspection_active"] <= 2 and stats["oidc_gate.idp.introspection_failure"] == 0


def test_a_revoked_opaque_token_is_refused_once_its_cache_entry_ends(api):
    idp, envoy = api
    token = idp.opaque_token()
    assert who(envoy.get("/orders", {"authorization": f"Bearer {token}"}))["x-client-id"] == "service"
    idp.revoke_token(token, client="service")
    deadline = time.monotonic() + 5
    while envoy.get("/orders", {"authorization": f"Bearer {token}"}).status == 200:
        assert time.monotonic() < deadline, "still accepted after the cache entry ended"
        time.sleep(0.2)
    r = envoy.get("/orders", {"authorization": f"Bearer {token}"})
    assert r.status == 401 and "not active" in r.headers["www-authenticate"]
    assert envoy.stats()["oidc_gate.idp.introspection_inactive"] >= 1


def test_twenty_concurrent_first_uses_of_an_opaque_token_cost_one_call(api):
    idp, envoy = api
    token = idp.opaque_token()
    before = idp.stats()["introspection"]
    results = []

    def call():
        results.append(envoy.get("/orders", {"authorization": f"Bearer {token}"}).status)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 20
    assert idp.stats()["introspection"] == before + 1


def test_an_opaque_token_of_a_client_this_api_does_not_accept_is_refused(rig):
    idp = rig.idp().start()
    cfg = tokens_config(idp)
    cfg["bearer"]["client_ids"] = ["cli"]
    envoy = rig.envoy(cfg, idp.port)
    r = envoy.get("/orders", {"authorization": f"Bearer {idp.opaque_token()}"})  # issued to "service", no aud
    assert r.status == 401 and "not meant for this audience" in r.headers["www-authenticate"], r


def test_a_token_of_impossible_shape_costs_no_call(api):
    idp, envoy = api
    before = idp.stats()["introspection"]
    for garbage in ("x" * 20_000, "not;a;token", "a" * 5000):
        r = envoy.get("/orders", {"authorization": f"Bearer {garbage}"})
        assert r.status == 401 and r.json()["error"] == "invalid_token", garbage[:20]
    assert idp.stats()["introspection"] == before


@pytest.mark.parametrize("resource", ["api://orders", None], ids=["jwt", "opaque"])
def test_a_token_from_a_real_device_flow_is_accepted(api, resource):
    idp, envoy = api
    tokens = idp.device_flow(resource=resource)
    access = tokens["access_token"]
    assert (access.count(".") == 2) == (resource is not None)
    h = who(envoy.get("/orders", {"flwr-oidc-access-token": access}))
    assert h["x-user-id"] == "alice" and h["x-client-id"] == "cli"


def test_the_protected_resource_metadata_is_served_and_named_in_every_401(api):
    idp, envoy = api
    r = envoy.get("/.well-known/oauth-protected-resource")
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc == {"resource": RESOURCE, "authorization_servers": [idp.issuer],
                   "scopes_supported": ["api:read", "api"], "bearer_methods_supported": ["header"]}
    for headers in ({}, {"authorization": "Bearer a.b.c"}, {"authorization": "Bearer revoked-or-unknown"}):
        r = envoy.get("/orders", headers)
        assert r.status == 401, (headers, r)
        assert f'resource_metadata="{METADATA_URL}"' in r.headers["www-authenticate"], r.headers
