use super::provider::{FetchError, MAX_BACKOFF_MS};
use super::*;
use crate::core::testing::keys::{jwks, rsa_a, rsa_b};
use crate::core::web::AbsoluteUrl;
use std::collections::BTreeMap;
use std::time::Duration;

const ISS: &str = "https://idp.example.com";
const REFRESH_MS: u64 = 600_000;
const REFRESH: Duration = Duration::from_millis(REFRESH_MS);
const MIN_REFETCH: Duration = Duration::from_secs(30);

fn provider() -> Provider {
    Provider::new(IssuerConfig {
        issuer: ISS.to_string(),
        rule: crate::core::token::IssuerRule::new(ISS, vec![], vec![]),
        discovery_url: AbsoluteUrl::parse("https://idp.example.com/.well-known/openid-configuration").unwrap(),
        audiences: vec!["api".into()],
        identity_headers: None,
        endpoints: None,
    })
}

fn clusters() -> Clusters {
    Clusters { default: "idp".into(), by_host: BTreeMap::from([("keys.example.net".into(), "keys".into())]) }
}

fn discovery(issuer: &str) -> Vec<u8> {
    serde_json::json!({"issuer": issuer, "jwks_uri": "https://keys.example.net/jwks",
        "authorization_endpoint": "https://idp.example.com/auth", "token_endpoint": "https://idp.example.com/token"})
    .to_string()
    .into_bytes()
}

/// Runs discovery then JWKS to completion at `now`.
fn load(p: &mut Provider, now: u64, keys_body: &[u8]) -> Update {
    let (kind, _) = p.poll(now, &clusters()).unwrap();
    assert_eq!(kind, FetchKind::Discovery);
    assert_eq!(p.on_response(kind, Some(200), &discovery(ISS), now, REFRESH), Update::default());
    let (kind, target) = p.poll(now, &clusters()).unwrap();
    assert_eq!(kind, FetchKind::Jwks);
    assert_eq!(target.cluster, "keys", "jwks_uri host maps through idp_clusters");
    assert_eq!(target.path, "/jwks");
    p.on_response(kind, Some(200), keys_body, now, REFRESH)
}

#[test]
fn loads_discovery_then_keys_then_waits_for_the_refresh_period() {
    let mut p = provider();
    let (kind, target) = p.poll(0, &clusters()).unwrap();
    assert_eq!(kind, FetchKind::Discovery);
    assert_eq!(
        target,
        CalloutTarget {
            cluster: "idp".into(),
            authority: "idp.example.com".into(),
            path: "/.well-known/openid-configuration".into()
        }
    );
    assert!(p.poll(0, &clusters()).is_none(), "one fetch at a time");
    p.on_response(kind, Some(200), &discovery(ISS), 0, REFRESH);
    let (kind, _) = p.poll(0, &clusters()).unwrap();
    let a = rsa_a();
    let update = p.on_response(kind, Some(200), jwks(&[(&a, "a")]).as_bytes(), 0, REFRESH);
    assert_eq!(update, Update { settled: true, keys_changed: true, error: None });
    assert_eq!(p.keys.as_ref().unwrap().keys.len(), 1);
    assert!(p.poll(REFRESH_MS - 1, &clusters()).is_none());
    assert_eq!(p.poll(REFRESH_MS, &clusters()).unwrap().0, FetchKind::Discovery);
}

#[test]
fn failures_keep_the_last_good_keys_and_back_off() {
    let mut p = provider();
    let a = rsa_a();
    load(&mut p, 0, jwks(&[(&a, "a")]).as_bytes());
    // Refresh: the IdP is down, then answers garbage, then names another issuer.
    let (kind, _) = p.poll(REFRESH_MS, &clusters()).unwrap();
    let u = p.on_response(kind, None, b"", REFRESH_MS, REFRESH);
    assert_eq!(u.error, Some(FetchError::Unreachable));
    assert!(p.keys.is_some(), "last good keys kept");
    assert!(p.poll(REFRESH_MS + 999, &clusters()).is_none(), "1s back-off after the first failure");
    let (kind, _) = p.poll(REFRESH_MS + 1000, &clusters()).unwrap();
    assert_eq!(p.on_response(kind, Some(200), b"<html>", REFRESH_MS + 1000, REFRESH).error, Some(FetchError::NotJson));
    assert!(p.poll(REFRESH_MS + 2999, &clusters()).is_none(), "2s back-off after the second");
    let (kind, _) = p.poll(REFRESH_MS + 3000, &clusters()).unwrap();
    let lying = p.on_response(kind, Some(200), &discovery("https://evil.example.com"), REFRESH_MS + 3000, REFRESH);
    assert_eq!(lying.error, Some(FetchError::IssuerMismatch("https://evil.example.com".into())));
    assert_eq!(p.failures(), 3);
    assert!(p.keys.is_some());
    // Back-off is capped.
    for i in 0..20 {
        let now = REFRESH_MS + 100_000 * (i + 1);
        if let Some((kind, _)) = p.poll(now, &clusters()) {
            p.on_response(kind, Some(500), b"", now, REFRESH);
        }
    }
    let last = REFRESH_MS + 2_000_000;
    assert!(p.poll(last + MAX_BACKOFF_MS, &clusters()).is_some());
}

#[test]
fn a_jwks_without_usable_keys_is_a_failure() {
    let mut p = provider();
    let u = load(&mut p, 0, br#"{"keys":[{"kty":"oct","k":"AAAA"}]}"#);
    assert_eq!(u.error, Some(FetchError::Jwks("JWKS has no usable signing key".into())));
    assert!(u.settled);
    assert!(p.keys.is_none());
}

#[test]
fn the_same_keys_again_are_not_a_change() {
    let mut p = provider();
    let a = rsa_a();
    let body = jwks(&[(&a, "a")]);
    assert!(load(&mut p, 0, body.as_bytes()).keys_changed);
    assert!(!load(&mut p, REFRESH_MS, body.as_bytes()).keys_changed);
    let b = rsa_b();
    assert!(load(&mut p, 2 * REFRESH_MS, jwks(&[(&b, "b")]).as_bytes()).keys_changed);
}

#[test]
fn unknown_kid_refetch_is_rate_limited() {
    let mut p = provider();
    assert!(!p.request_refetch(0, MIN_REFETCH), "nothing to re-fetch before discovery");
    let a = rsa_a();
    load(&mut p, 0, jwks(&[(&a, "a")]).as_bytes());
    assert!(!p.request_refetch(29_999, MIN_REFETCH), "within the minimum interval of the last fetch");
    assert!(p.request_refetch(30_000, MIN_REFETCH));
    assert!(p.busy());
    assert!(p.request_refetch(30_001, MIN_REFETCH), "a fetch is already due: wait for it");
    let (kind, _) = p.poll(30_000, &clusters()).unwrap();
    assert_eq!(kind, FetchKind::Jwks);
    p.on_response(kind, Some(200), jwks(&[(&a, "a")]).as_bytes(), 30_000, REFRESH);
    assert!(!p.request_refetch(40_000, MIN_REFETCH));
}

#[test]
fn a_response_for_no_fetch_in_flight_is_ignored() {
    let mut p = provider();
    assert_eq!(p.on_response(FetchKind::Jwks, Some(200), b"{}", 0, REFRESH), Update::default());
    assert!(p.keys.is_none());
}
