//! Every kind of machine credential: token headers, static API tokens, opaque tokens
//! through introspection (one call per token per Envoy), and the RFC 9728 metadata.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::rc::Rc;

use super::*;
use crate::core::testing::keys::{jwks, rsa_a, sign};
use crate::core::testing::{config, discovery, feed, MapHeaders, TestIo, ISS, NOW_MS, NOW_S};
use crate::core::token::{Alg, JwtError};

fn gate(extra: Value) -> Gate {
    gate_with_keys(extra, &jwks(&[(&rsa_a(), "k1")]))
}

fn gate_with_keys(extra: Value, keys: &str) -> Gate {
    let mut cfg = json!({"bearer": {"audiences": ["api"],
        "token_headers": ["flyte-authorization", {"header": "flwr-oidc-access-token", "raw": true}],
        "introspection": {"cache_ttl": "60s"}, "client_ids": ["cli"],
        "api_tokens": [{"name": "ci-bot", "sha256": format!("{:x}", Sha256::digest(b"ci-token-0123")),
            "groups": ["ci"], "scopes": ["api:read"]}]},
        "identity_headers": {"x-user-id": "sub", "x-groups": "groups", "x-scope": "scope"},
        "resource_metadata": {"resource": "https://api.example.com", "scopes_supported": ["api:read"]}});
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    let mut g = Gate::new(Rc::new(config(cfg)));
    let clusters = g.config.clusters.clone();
    let doc = discovery(json!({"introspection_endpoint": "https://idp.example.com/introspect"}));
    feed(&mut g.providers[0], &clusters, &doc, keys, NOW_MS);
    g
}

fn jwt() -> String {
    sign(&rsa_a(), Alg::RS256, "k1", &json!({"iss": ISS, "sub": "svc", "aud": "api", "exp": NOW_S + 300}))
}

fn run(g: &mut Gate, io: &mut TestIo, h: &MapHeaders) -> Decision {
    io.run(|io| g.decide(&mut h.clone(), NOW_MS, true, io))
}

fn headers_of(d: Decision) -> Vec<(String, String)> {
    match d {
        Decision::Allow { identity, counter: Counter::AllowedBearer, .. } => identity.headers.clone(),
        other => panic!("{other:?}"),
    }
}

fn req(pairs: &[(&str, &str)]) -> MapHeaders {
    MapHeaders::new(&[(":path", "/api/x"), (":method", "GET")]).with_all(pairs)
}

#[test]
fn tokens_come_from_authorization_or_the_configured_headers_and_authorization_wins() {
    let mut g = gate(json!({}));
    let mut io = TestIo::new(0);
    let t = jwt();
    let want = vec![("x-user-id".to_string(), "svc".to_string())];
    let bearer = format!("Bearer {t}");
    assert_eq!(headers_of(run(&mut g, &mut io, &req(&[("flyte-authorization", &bearer)]))), want);
    assert_eq!(headers_of(run(&mut g, &mut io, &req(&[("flwr-oidc-access-token", &format!(" {t} "))]))), want);
    // A bare token where `Bearer` is expected, and the reverse, are no tokens.
    let d = run(&mut g, &mut io, &req(&[("flyte-authorization", &t)]));
    assert!(matches!(d, Decision::Deny(Denial::MissingToken)), "{d:?}");
    // Authorization wins, even with a bad token.
    let d = run(&mut g, &mut io, &req(&[("authorization", "Bearer a.b.c"), ("flyte-authorization", &bearer)]));
    assert!(matches!(d, Decision::Deny(Denial::InvalidToken(JwtError::Malformed))), "{d:?}");
    // Another scheme in Authorization does not hide a token header.
    let d = run(&mut g, &mut io, &req(&[("authorization", "Basic eDp5"), ("flyte-authorization", &bearer)]));
    assert_eq!(headers_of(d), want);
}

#[test]
fn a_static_api_token_is_known_by_its_digest() {
    let mut g = gate(json!({}));
    let mut io = TestIo::new(0);
    let d = run(&mut g, &mut io, &req(&[("authorization", "Bearer ci-token-0123")]));
    let mut h = headers_of(d);
    h.sort();
    assert_eq!(
        h,
        vec![
            ("x-groups".to_string(), "ci".to_string()),
            ("x-scope".to_string(), "api:read".to_string()),
            ("x-user-id".to_string(), "ci-bot".to_string())
        ]
    );
    // A wrong one is an opaque token like any other: introspected.
    let d = run(&mut g, &mut io, &req(&[("authorization", "Bearer ci-token-0124")]));
    assert!(matches!(d, Decision::Call { .. }), "{d:?}");
}

fn answer(g: &mut Gate, io: &mut TestIo, pending: Pending, body: &Value, h: &MapHeaders) -> Decision {
    let body = body.to_string();
    io.run(|io| g.resume(pending, Answer { status: Some(200), body: body.as_bytes() }, NOW_MS, &mut h.clone(), io))
}

#[test]
fn an_opaque_token_is_introspected_once_per_envoy_and_cached() {
    // Two gates sharing one store: two workers of one Envoy.
    let (mut w1, mut w2) = (gate(json!({})), gate(json!({})));
    let mut io1 = TestIo::new(1);
    let h = req(&[("authorization", "Bearer opaque-token-abc")]);
    let Decision::Call { callout, pending } = run(&mut w1, &mut io1, &h) else { panic!("no introspection") };
    assert_eq!(callout.target.path, "/introspect");
    let form = crate::core::web::form::parse(callout.body.as_deref().unwrap()).unwrap();
    assert_eq!(crate::core::web::form::get(&form, "token"), Some("opaque-token-abc"));
    assert!(callout.headers.iter().any(|(n, _)| *n == "authorization"), "authenticated as the client");
    // While it is under way, the same token on the same and on the other worker waits.
    let mut io2 = TestIo { store: std::mem::take(&mut io1.store), ..TestIo::new(2) };
    assert!(matches!(run(&mut w2, &mut io2, &h), Decision::Wait { on: WaitFor::Flight(_), .. }));
    io1.store = std::mem::take(&mut io2.store);
    assert!(matches!(run(&mut w1, &mut io1, &h), Decision::Wait { on: WaitFor::Flight(_), .. }));
    let active = json!({"active": true, "sub": "device-user", "scope": "api", "exp": NOW_S + 30, "iss": ISS, "client_id": "cli"});
    let d = answer(&mut w1, &mut io1, pending, &active, &h);
    assert_eq!(
        headers_of(d),
        vec![("x-scope".to_string(), "api".to_string()), ("x-user-id".to_string(), "device-user".to_string())]
    );
    // The other worker takes the shared outcome: no call of its own.
    io2.store = std::mem::take(&mut io1.store);
    assert!(matches!(run(&mut w2, &mut io2, &h), Decision::Allow { .. }));
    // Past the token's exp, the cache no longer serves it.
    let later = io1.run(|io| w1.decide(&mut h.clone(), (NOW_S + 31) * 1000, true, io));
    assert!(matches!(later, Decision::Call { .. }), "{later:?}");
}

#[test]
fn an_inactive_token_is_refused_and_remembered_and_garbage_costs_no_call() {
    let mut g = gate(json!({}));
    let mut io = TestIo::new(0);
    let h = req(&[("authorization", "Bearer revoked-token")]);
    let Decision::Call { pending, .. } = run(&mut g, &mut io, &h) else { panic!() };
    let d = answer(&mut g, &mut io, pending, &json!({"active": false}), &h);
    assert!(matches!(d, Decision::Deny(Denial::InvalidToken(JwtError::Inactive))), "{d:?}");
    assert!(matches!(run(&mut g, &mut io, &h), Decision::Deny(Denial::InvalidToken(JwtError::Inactive))));
    for garbage in ["x".repeat(20_000), "has space".into(), "quote\"d".into(), "é".into()] {
        let d = run(&mut g, &mut io, &req(&[("authorization", &format!("Bearer {garbage}"))]));
        assert!(matches!(d, Decision::Deny(Denial::InvalidToken(JwtError::Malformed))), "{garbage:?}: {d:?}");
    }
    // Without introspection configured, an opaque token is simply malformed.
    let mut plain = gate(json!({"bearer": {"audiences": ["api"]}}));
    let d = run(&mut plain, &mut io, &req(&[("authorization", "Bearer opaque")]));
    assert!(matches!(d, Decision::Deny(Denial::InvalidToken(JwtError::Malformed))), "{d:?}");
}

#[test]
fn the_protected_resource_metadata_is_served_and_named_in_every_401() {
    let mut g = gate(json!({}));
    let mut io = TestIo::new(0);
    let Decision::Respond { response, counter, .. } =
        run(&mut g, &mut io, &MapHeaders::new(&[(":path", "/.well-known/oauth-protected-resource")]))
    else {
        panic!()
    };
    assert_eq!(counter, Counter::ResourceMetadata);
    let doc: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(doc["authorization_servers"], json!([ISS]));
    let url = "https://api.example.com/.well-known/oauth-protected-resource";
    for d in [Denial::MissingToken, Denial::InvalidToken(JwtError::Expired)] {
        let r = d.response_for(&g.config);
        assert!(r.header("www-authenticate").unwrap().contains(&format!("resource_metadata=\"{url}\"")));
    }
}

#[test]
fn an_answer_already_expired_within_the_skew_is_used_once_and_never_makes_a_second_call() {
    let mut g = gate(json!({}));
    let mut io = TestIo::new(0);
    let h = req(&[("authorization", "Bearer clock-behind-token")]);
    let Decision::Call { pending, .. } = run(&mut g, &mut io, &h) else { panic!() };
    // The IdP's clock is a few seconds behind: exp is just past, within clock_skew.
    let active = json!({"active": true, "sub": "u", "exp": NOW_S - 5, "client_id": "cli"});
    let d = answer(&mut g, &mut io, pending, &active, &h);
    assert!(matches!(d, Decision::Allow { .. }), "{d:?}");
    assert!(!format!("{d:?}").contains("clock-behind-token"), "Debug shows no token");
}

#[test]
fn introspection_ttls_under_a_second_are_refused() {
    let cfg = crate::core::testing::config_json(json!({"bearer": {"audiences": ["api"],
        "introspection": {"cache_ttl": "500ms", "inactive_cache_ttl": "0s"}}}));
    let errs: Vec<String> =
        crate::core::config::load(cfg.to_string().as_bytes(), &crate::core::testing::MapEnv::default())
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
    assert_eq!(
        errs,
        vec![
            "bearer.introspection.cache_ttl: must be at least 1s",
            "bearer.introspection.inactive_cache_ttl: must be at least 1s"
        ]
    );
}

#[test]
fn a_token_issued_to_another_client_without_an_audience_is_refused() {
    let mut g = gate(json!({}));
    let mut io = TestIo::new(0);
    let h = req(&[("authorization", "Bearer other-apps-token")]);
    let Decision::Call { pending, .. } = run(&mut g, &mut io, &h) else { panic!() };
    let d = answer(&mut g, &mut io, pending, &json!({"active": true, "sub": "u", "client_id": "other-app"}), &h);
    assert!(matches!(d, Decision::Deny(Denial::InvalidToken(JwtError::WrongAudience))), "{d:?}");
}

#[test]
fn a_token_verified_by_one_worker_is_taken_by_the_others_not_verified_again() {
    // Two workers of one Envoy: two gates, one shared store.
    let (mut a, mut b) = (gate(json!({})), gate(json!({})));
    let mut io = TestIo::new(0);
    let h = req(&[("authorization", &format!("Bearer {}", jwt()))]);
    let want = headers_of(run(&mut a, &mut io, &h));
    assert_eq!(std::mem::take(&mut io.seen), [Counter::CacheMiss, Counter::SharedCacheMiss]);
    assert_eq!(headers_of(run(&mut b, &mut io, &h)), want);
    assert_eq!(std::mem::take(&mut io.seen), [Counter::CacheMiss, Counter::SharedCacheHit]);
    run(&mut b, &mut io, &h);
    assert_eq!(std::mem::take(&mut io.seen), [Counter::CacheHit], "then its own cache");
    // A worker of another config (another filter on the same VM) verifies for itself.
    let mut other = gate(json!({"realm": "another"}));
    run(&mut other, &mut io, &h);
    assert_eq!(std::mem::take(&mut io.seen), [Counter::CacheMiss, Counter::SharedCacheMiss]);
    // New keys at the issuer: what was verified under the old ones is not taken.
    let rotated = jwks(&[(&rsa_a(), "k1"), (&crate::core::testing::keys::rsa_b(), "k2")]);
    let mut c = gate_with_keys(json!({}), &rotated);
    assert_eq!(headers_of(run(&mut c, &mut io, &h)), want);
    assert_eq!(std::mem::take(&mut io.seen), [Counter::CacheMiss, Counter::SharedCacheMiss]);
    // With the cache off, nothing is shared either.
    let mut off = gate(json!({"bearer": {"audiences": ["api"], "cache_size": 0}}));
    run(&mut off, &mut io, &h);
    assert_eq!(std::mem::take(&mut io.seen), [Counter::CacheMiss]);
}

#[test]
fn a_token_naming_no_known_key_never_reads_the_shared_ring() {
    // Its scope holds these keys' fingerprint: no worker can have shared it, so the lookup
    // (up to 16 reads of shared data) is skipped; it goes to its key refetch or refusal.
    let mut g = gate(json!({"bearer": {"audiences": ["api"]}}));
    let mut io = TestIo::new(0);
    let claims = json!({"iss": ISS, "sub": "svc", "aud": "api", "exp": NOW_S + 300});
    let forged = sign(&crate::core::testing::keys::rsa_b(), Alg::RS256, "k9", &claims);
    let h = req(&[("authorization", &format!("Bearer {forged}"))]);
    let d = io.run(|io| g.decide(&mut h.clone(), NOW_MS, false, io));
    assert!(matches!(d, Decision::Deny(Denial::InvalidToken(JwtError::UnknownKey))), "{d:?}");
    assert_eq!(std::mem::take(&mut io.seen), [Counter::CacheMiss], "no shared lookup");
}
