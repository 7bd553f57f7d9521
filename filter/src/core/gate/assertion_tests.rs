//! The signed identity assertion through the gate: signed once per identity and origin,
//! reused from the worker's cache, its JWKS served to anyone, verifiable with it; and
//! CORS preflights let through only when configured.

use serde_json::{json, Value};
use std::rc::Rc;

use super::*;
use crate::core::assertion::JWKS_PATH;
use crate::core::testing::keys::{jwks, rsa_a, sign};
use crate::core::testing::{config, discovery, feed, MapHeaders, TestIo, ISS, NOW_MS, NOW_S};
use crate::core::token::{decode, Alg, AlgSet, KeySet};

const EC_KEY: &str = include_str!("../../../testdata/ec-p256.pem");

fn gate(extra: Value) -> Gate {
    let mut cfg = json!({"assertion": {"signing_key": EC_KEY, "audience": "orders-app", "lifetime": "5m"},
        "groups_header": {"header": "x-groups"}});
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    let mut g = Gate::new(Rc::new(config(cfg)));
    let clusters = g.config.clusters.clone();
    feed(&mut g.providers[0], &clusters, &discovery(json!({})), &jwks(&[(&rsa_a(), "k1")]), NOW_MS);
    g
}

fn token(sub: &str) -> String {
    let claims = json!({"iss": ISS, "sub": sub, "aud": "api", "exp": NOW_S + 3600, "email": format!("{sub}@example.com"),
        "groups": ["admins", "dev"]});
    sign(&rsa_a(), Alg::RS256, "k1", &claims)
}

fn req(token: &str, authority: &str) -> MapHeaders {
    MapHeaders::new(&[(":path", "/api/x"), (":method", "GET"), (":scheme", "https"), (":authority", authority)])
        .with("authorization", &format!("Bearer {token}"))
}

fn assertion_of(d: Decision) -> Rc<str> {
    match d {
        Decision::Allow { assertion: Some(a), .. } => a,
        other => panic!("{other:?}"),
    }
}

fn served_jwks(g: &mut Gate, io: &mut TestIo) -> String {
    let mut h = MapHeaders::new(&[(":path", JWKS_PATH), (":method", "GET")]);
    match io.run(|io| g.decide(&mut h, NOW_MS, true, io)) {
        Decision::Respond { response, counter: Counter::AssertionJwks, .. } => {
            assert_eq!(response.status, 200);
            assert_eq!(response.header("cache-control"), Some("public, max-age=300"));
            response.body
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_allowed_request_carries_an_assertion_that_verifies_with_the_served_jwks() {
    let mut g = gate(json!({}));
    let mut io = TestIo::new(0);
    let jwt = assertion_of(io.run(|io| g.decide(&mut req(&token("alice"), "app.example"), NOW_MS, true, io)));
    let keys = KeySet::parse(served_jwks(&mut g, &mut io).as_bytes()).unwrap();
    let verified = decode(&jwt, AlgSet::all()).unwrap().verify(&keys).unwrap();
    let claims = Value::Object(verified.claims().clone());
    assert_eq!(
        claims,
        json!({"iss": "https://app.example", "aud": "orders-app", "sub": "alice", "email": "alice@example.com",
            "groups": ["admins", "dev"], "idp": ISS, "iat": NOW_S, "exp": NOW_S + 300})
    );
    assert!(g.config.identity.all_headers.contains(&"x-oidc-gate-assertion".to_string()), "stripped like any");
}

#[test]
fn one_identity_is_signed_once_and_reused_until_a_quarter_of_the_lifetime_is_left() {
    let mut g = gate(json!({}));
    let mut io = TestIo::new(0);
    let t = token("alice");
    let at = |g: &mut Gate, io: &mut TestIo, ms: u64, authority: &str| {
        assertion_of(io.run(|io| g.decide(&mut req(&t, authority), ms, true, io)))
    };
    let first = at(&mut g, &mut io, NOW_MS, "app.example");
    let again = at(&mut g, &mut io, NOW_MS + 224_000, "app.example");
    assert!(Rc::ptr_eq(&first, &again), "the same assertion, not a copy");
    let shouted = at(&mut g, &mut io, NOW_MS + 1000, "APP.Example");
    assert!(Rc::ptr_eq(&first, &shouted), "a Host's case makes no other origin");
    let hits = |io: &TestIo, c| io.seen.iter().filter(|s| **s == c).count();
    assert_eq!((hits(&io, Counter::AssertionCacheMiss), hits(&io, Counter::AssertionCacheHit)), (1, 2));
    let renewed = at(&mut g, &mut io, NOW_MS + 225_000, "app.example");
    assert_ne!(first, renewed, "signed anew with 75 s left");
    let other_host = at(&mut g, &mut io, NOW_MS + 225_000, "admin.example");
    assert_ne!(renewed, other_host, "iss is the origin it was asked through");
    // One entry per identity: back on the first origin it is signed again (the same bytes:
    // ES256 here is deterministic, RFC 6979, and the claims are the same).
    let back = at(&mut g, &mut io, NOW_MS + 225_000, "app.example");
    assert_eq!(back, renewed);
    let bob = assertion_of(io.run(|io| g.decide(&mut req(&token("bob"), "app.example"), NOW_MS, true, io)));
    assert_ne!(bob, renewed, "another identity, another assertion");
    assert_eq!((hits(&io, Counter::AssertionCacheMiss), hits(&io, Counter::AssertionCacheHit)), (5, 2));
}

#[test]
fn a_fixed_issuer_needs_no_origin_and_requests_without_identity_carry_none() {
    let mut g =
        gate(json!({"assertion": {"signing_keys": [EC_KEY], "audience": "a", "issuer": "https://gate.example/"},
        "bypass": [{"prefix": "/healthz"}]}));
    let mut io = TestIo::new(0);
    let mut h = req(&token("alice"), "bad host/x");
    let jwt = assertion_of(io.run(|io| g.decide(&mut h, NOW_MS, true, io)));
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], "https://gate.example");
    let mut health = MapHeaders::new(&[(":path", "/healthz"), (":method", "GET")]);
    let d = io.run(|io| g.decide(&mut health, NOW_MS, true, io));
    assert!(matches!(d, Decision::Allow { assertion: None, counter: Counter::AllowedBypass, .. }), "{d:?}");
    // Without a fixed issuer, a Host that is no origin gets no assertion but a 400.
    let mut g = gate(json!({}));
    let d = io.run(|io| g.decide(&mut req(&token("alice"), "bad host/x"), NOW_MS, true, io));
    assert!(matches!(d, Decision::Respond { counter: Counter::DeniedBadRequest, .. }), "{d:?}");
}

#[test]
fn preflights_pass_unauthenticated_only_with_cors_preflight_allow() {
    let preflight = MapHeaders::new(&[
        (":path", "/api/x"),
        (":method", "OPTIONS"),
        ("origin", "https://spa.example"),
        ("access-control-request-method", "POST"),
    ]);
    let mut io = TestIo::new(0);
    let mut allow = gate(json!({"cors_preflight": "allow"}));
    let d = io.run(|io| allow.decide(&mut preflight.clone(), NOW_MS, true, io));
    assert!(
        matches!(&d, Decision::Allow { counter: Counter::AllowedPreflight, assertion: None, identity, .. }
        if identity.headers.is_empty()),
        "{d:?}"
    );
    let mut refuse = gate(json!({}));
    let d = io.run(|io| refuse.decide(&mut preflight.clone(), NOW_MS, true, io));
    assert!(matches!(d, Decision::Deny(Denial::MissingToken)), "{d:?}");
    let mut plain_options = MapHeaders::new(&[(":path", "/api/x"), (":method", "OPTIONS")]);
    let d = io.run(|io| allow.decide(&mut plain_options, NOW_MS, true, io));
    assert!(matches!(d, Decision::Deny(Denial::MissingToken)), "{d:?}");
}
