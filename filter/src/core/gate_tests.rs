//! Scenarios of the request decision against a provider fed by hand.

use super::*;
use crate::core::config::load;
use crate::core::jwt::Alg;
use crate::core::provider::FetchKind;
use crate::core::seal::tests::Counter as Rng;
use crate::core::secret::ProcessEnv;
use crate::core::testkeys::{jwks, rsa_a, sign};
use serde_json::json;
use std::collections::HashMap;

/// Request headers for the gate, from a map.
pub struct MapHeaders(pub HashMap<String, String>);
impl RequestHeaders for MapHeaders {
    fn get(&mut self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

const ISS: &str = "https://idp.example.com";
const NOW_MS: u64 = 1_800_000_000_000;
const NOW: u64 = NOW_MS / 1000;

fn gate() -> Gate {
    let cfg = json!({
        "issuer": ISS, "idp_cluster": "idp", "bearer": {"audiences": ["api"]},
        "identity_headers": {"x-user-id": "sub", "x-user-groups": "groups"},
        "bypass": [{"prefix": "/healthz"}],
    });
    Gate::new(Rc::new(load(cfg.to_string().as_bytes(), &ProcessEnv).unwrap()))
}

fn feed_keys(g: &mut Gate, body: &str, now_ms: u64) {
    let clusters = g.config.clusters.clone();
    let p = &mut g.providers[0];
    let (k, _) = p.poll(now_ms, &clusters).unwrap();
    assert_eq!(k, FetchKind::Discovery);
    let doc = json!({"issuer": ISS, "jwks_uri": "https://idp.example.com/jwks"}).to_string();
    p.on_response(k, Some(200), doc.as_bytes(), now_ms, 600_000);
    let (k, _) = p.poll(now_ms, &clusters).unwrap();
    p.on_response(k, Some(200), body.as_bytes(), now_ms, 600_000);
}

fn facts(path: &str, token: Option<&str>) -> MapHeaders {
    let mut h = HashMap::from([(":path".to_string(), path.to_string()), (":method".to_string(), "GET".to_string())]);
    if let Some(t) = token {
        h.insert("authorization".into(), format!("Bearer {t}"));
    }
    MapHeaders(h)
}

fn token(kid: &str, exp: u64) -> String {
    sign(&rsa_a(), Alg::RS256, kid, &json!({"iss": ISS, "sub": "u1", "aud": "api", "exp": exp, "groups": ["a", "b"]}))
}

fn decide(g: &mut Gate, f: &MapHeaders, now_ms: u64, may_wait: bool) -> (Decision, Vec<Counter>) {
    let mut seen = Vec::new();
    let mut req = MapHeaders(f.0.clone());
    let d = g.decide(&mut req, now_ms, may_wait, &mut Rng(0), &mut |c| seen.push(c));
    (d, seen)
}

/// The decision in a comparable form.
#[derive(Debug, PartialEq)]
enum D {
    Allow(Vec<(String, String)>, Counter),
    Deny(Denial),
    Wait(usize),
    Other,
}

fn d(decision: Decision) -> D {
    match decision {
        Decision::Allow { headers, counter, .. } => D::Allow(headers.to_vec(), counter),
        Decision::Deny(x) => D::Deny(x),
        Decision::Wait { provider } => D::Wait(provider),
        _ => D::Other,
    }
}

#[test]
fn bearer_extraction() {
    assert_eq!(bearer_token(Some("Bearer abc")), Some("abc"));
    assert_eq!(bearer_token(Some("bearer   abc")), Some("abc"));
    assert_eq!(bearer_token(Some("Basic abc")), None);
    assert_eq!(bearer_token(Some("Bearer")), None);
    assert_eq!(bearer_token(None), None);
}

#[test]
fn a_valid_token_is_verified_once_then_served_from_the_cache() {
    let mut g = gate();
    let a = rsa_a();
    feed_keys(&mut g, &jwks(&[(&a, "k1")]), NOW_MS);
    let t = token("k1", NOW + 300);
    let (dec, seen) = decide(&mut g, &facts("/x", Some(&t)), NOW_MS, true);
    let want = vec![("x-user-groups".to_string(), "a,b".to_string()), ("x-user-id".to_string(), "u1".to_string())];
    assert_eq!(d(dec), D::Allow(want.clone(), Counter::AllowedBearer));
    assert_eq!(seen, vec![Counter::CacheMiss]);
    let (dec, seen) = decide(&mut g, &facts("/x", Some(&t)), NOW_MS + 1000, true);
    assert_eq!(d(dec), D::Allow(want, Counter::AllowedBearer));
    assert_eq!(seen, vec![Counter::CacheHit]);
    // At exp the cache no longer serves it; past exp plus skew it is refused.
    let (dec, seen) = decide(&mut g, &facts("/x", Some(&t)), (NOW + 300 + 61) * 1000, true);
    assert_eq!(d(dec), D::Deny(Denial::InvalidToken(JwtError::Expired)));
    assert_eq!(seen, vec![Counter::CacheMiss]);
}

#[test]
fn requests_wait_for_the_first_keys_then_get_an_answer() {
    let mut g = gate();
    let t = token("k1", NOW + 300);
    let clusters = g.config.clusters.clone();
    let _ = g.providers[0].poll(NOW_MS, &clusters);
    let (dec, _) = decide(&mut g, &facts("/x", Some(&t)), NOW_MS, true);
    assert_eq!(d(dec), D::Wait(0));
    // Deciding again after the wait never waits twice.
    let (dec, _) = decide(&mut g, &facts("/x", Some(&t)), NOW_MS, false);
    assert_eq!(d(dec), D::Deny(Denial::Unavailable));
    // Once the first fetch failed, new requests are answered 503 at once.
    g.providers[0].on_response(FetchKind::Discovery, None, b"", NOW_MS, 600_000);
    let (dec, _) = decide(&mut g, &facts("/x", Some(&t)), NOW_MS, true);
    assert_eq!(d(dec), D::Deny(Denial::Unavailable));
    // A request without a token needs no keys.
    let (dec, _) = decide(&mut g, &facts("/x", None), NOW_MS, true);
    assert_eq!(d(dec), D::Deny(Denial::MissingToken));
}

#[test]
fn an_unknown_kid_waits_for_one_refetch_then_is_refused() {
    let mut g = gate();
    let a = rsa_a();
    feed_keys(&mut g, &jwks(&[(&a, "k1")]), NOW_MS);
    let t = token("k2", NOW + 300);
    let later = NOW_MS + 60_000;
    let (dec, _) = decide(&mut g, &facts("/x", Some(&t)), later, true);
    assert_eq!(d(dec), D::Wait(0));
    // The re-fetch brings the new key: the same request now passes.
    let clusters = g.config.clusters.clone();
    let (k, _) = g.providers[0].poll(later, &clusters).unwrap();
    assert_eq!(k, FetchKind::Jwks);
    g.providers[0].on_response(k, Some(200), jwks(&[(&a, "k2")]).as_bytes(), later, 600_000);
    let (dec, _) = decide(&mut g, &facts("/x", Some(&t)), later, false);
    assert!(matches!(d(dec), D::Allow(..)));
    // Another unknown kid right away: rate-limited, refused without waiting.
    let (dec, _) = decide(&mut g, &facts("/x", Some(&token("k3", NOW + 300))), later + 1000, true);
    assert_eq!(d(dec), D::Deny(Denial::InvalidToken(JwtError::UnknownKey)));
}

#[test]
fn bypass_skips_authentication_but_only_for_clean_paths() {
    let mut g = gate();
    let (dec, _) = decide(&mut g, &facts("/healthz", None), NOW_MS, true);
    assert_eq!(d(dec), D::Allow(vec![], Counter::AllowedBypass));
    let (dec, _) = decide(&mut g, &facts("/healthz/../admin", None), NOW_MS, true);
    assert_eq!(d(dec), D::Deny(Denial::MissingToken));
}

#[test]
fn an_id_token_is_not_a_bearer_credential() {
    let mut g = gate();
    let a = rsa_a();
    feed_keys(&mut g, &jwks(&[(&a, "k1")]), NOW_MS);
    let claims = json!({"iss": ISS, "sub": "u1", "aud": "api", "exp": NOW + 300, "nonce": "n"});
    let t = sign(&a, Alg::RS256, "k1", &claims);
    let (dec, _) = decide(&mut g, &facts("/x", Some(&t)), NOW_MS, true);
    assert_eq!(d(dec), D::Deny(Denial::InvalidToken(JwtError::IdTokenAsBearer)));
}

#[test]
fn tokens_of_unknown_issuers_are_refused_before_any_key_lookup() {
    let mut g = gate();
    let t = sign(&rsa_a(), Alg::RS256, "k1", &json!({"iss": "https://evil", "aud": "api", "exp": NOW + 300}));
    let (dec, _) = decide(&mut g, &facts("/x", Some(&t)), NOW_MS, true);
    assert_eq!(d(dec), D::Deny(Denial::InvalidToken(JwtError::UnknownIssuer)));
}

fn login_gate() -> Gate {
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [4u8; 32]);
    let cfg = json!({
        "issuer": ISS, "idp_cluster": "idp", "client_id": "web", "client_secret": "s",
        "identity_headers": {"x-user-id": "sub"},
        "session": {"keys": [key], "lifetime": "8h", "idle_timeout": "1h"},
    });
    Gate::new(Rc::new(load(cfg.to_string().as_bytes(), &ProcessEnv).unwrap()))
}

fn browser(path: &str, cookie: &str) -> MapHeaders {
    MapHeaders(HashMap::from([
        (":path".to_string(), path.to_string()),
        (":method".to_string(), "GET".to_string()),
        (":authority".to_string(), "app.example.com".to_string()),
        ("accept".to_string(), "text/html".to_string()),
        ("cookie".to_string(), cookie.to_string()),
    ]))
}

#[test]
fn cached_sessions_still_expire_and_still_get_their_idle_window_extended() {
    let mut g = login_gate();
    let config = g.config.clone();
    let login = config.login.as_ref().unwrap();
    let s = crate::core::session::Session {
        sub: "alice".into(),
        iat: NOW,
        exp: NOW + 8 * 3600,
        seen: NOW,
        claims: json!({"sub": "alice"}).as_object().unwrap().clone(),
        id_token: None,
    };
    let set = crate::core::session::write(login, &s, &[], &mut Rng(0)).unwrap();
    let cookie = format!("theme=dark; {}", set[0].split(';').next().unwrap());
    let allow = |dec: Decision| match dec {
        Decision::Allow { headers, cookie, set_cookies, counter } => {
            assert_eq!(counter, Counter::AllowedSession);
            assert_eq!(cookie, CookieRewrite::Set("theme=dark".into()), "our cookie never goes upstream");
            (headers.to_vec(), set_cookies)
        }
        other => panic!("{other:?}"),
    };
    let (h, set1) = allow(decide(&mut g, &browser("/a", &cookie), NOW_MS + 1000, true).0);
    assert_eq!(h, vec![("x-user-id".to_string(), "alice".to_string())]);
    assert!(set1.is_empty());
    assert_eq!(g.sessions.len(), 1, "cached");
    let (_, set2) = allow(decide(&mut g, &browser("/b", &cookie), NOW_MS + 2000, true).0);
    assert!(set2.is_empty());
    // A quarter into the idle window the cached entry no longer serves: the cookie is re-issued.
    let (_, set3) = allow(decide(&mut g, &browser("/c", &cookie), (NOW + 901) * 1000, true).0);
    assert!(set3.iter().any(|c| c.starts_with("__Host-oidc_session=")));
    // Past the idle timeout the same cookie is refused, cached or not.
    let (dec, seen) = decide(&mut g, &browser("/d", &cookie), (NOW + 3600) * 1000, true);
    assert!(matches!(dec, Decision::Wait { .. } | Decision::Respond { .. }), "{dec:?}");
    assert!(seen.contains(&Counter::SessionExpired));
}
