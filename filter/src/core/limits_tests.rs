//! Every limit in the README's "Limits" table, at its boundary: one more than the limit is
//! refused (or not kept), the limit itself is not. The shell's limits (paused requests,
//! callouts in flight, IdP response bodies) are in `shell/tests.rs` and `tests/e2e`.

use serde_json::json;
use std::rc::Rc;

use crate::core::config::load;
use crate::core::gate::introspect::MAX_OPAQUE_TOKEN;
use crate::core::gate::{Decision, Denial, Gate};
use crate::core::identity::claims::{claim_value, MAX_HEADER_VALUE};
use crate::core::identity::Identity;
use crate::core::login::flow::{Flow, MAX_TARGET};
use crate::core::session::cookie::MAX_CHUNKS;
use crate::core::session::seal::MAX_SEALED;
use crate::core::session::{self, SessionState};
use crate::core::testing::{
    config_json, cookie_header, discovery, feed, login_config, session as alice, FixedRng, MapEnv, MapHeaders, TestIo,
    NOW_MS, NOW_S,
};
use crate::core::token::cache::{key_of, Cached, TokenCache};
use crate::core::token::jwt::MAX_TOKEN_BYTES;
use crate::core::token::{decode, AlgSet, JwtError};

#[test]
fn a_jwt_over_max_token_bytes_is_refused_before_decoding() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    // A well-formed token whose payload pads it to `len` bytes (or just under).
    let token = |len: usize| {
        let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
        // Start just below the answer: base64 makes 4 bytes of 3.
        let mut n = (len.saturating_sub(head.len() + 6) * 3 / 4).saturating_sub(16);
        loop {
            let body = URL_SAFE_NO_PAD.encode(json!({"p": "x".repeat(n + 1)}).to_string());
            if head.len() + body.len() + 6 > len {
                let body = URL_SAFE_NO_PAD.encode(json!({"p": "x".repeat(n)}).to_string());
                return format!("{head}.{body}.c2ln");
            }
            n += 1;
        }
    };
    let at = token(MAX_TOKEN_BYTES);
    assert!(at.len() <= MAX_TOKEN_BYTES && at.len() + 4 > MAX_TOKEN_BYTES);
    assert!(decode(&at, AlgSet::all()).is_ok(), "at the limit it is decoded");
    let over = token(MAX_TOKEN_BYTES + 8);
    assert!(over.len() > MAX_TOKEN_BYTES);
    assert_eq!(decode(&over, AlgSet::all()).err(), Some(JwtError::Malformed));
}

#[test]
fn an_opaque_token_over_max_opaque_token_is_refused_without_a_call() {
    let cfg = config_json(json!({"client_secret": "s", "bearer": {"audiences": ["api"], "introspection": {},
        "client_ids": ["web"]}}));
    let mut g = Gate::new(Rc::new(load(cfg.to_string().as_bytes(), &MapEnv::default()).unwrap()));
    let clusters = g.config.clusters.clone();
    let doc = discovery(json!({"introspection_endpoint": "https://idp.example.com/introspect"}));
    feed(&mut g.providers[0], &clusters, &doc, &crate::core::testing::keys::jwks(&[]), NOW_MS);
    let mut io = TestIo::new(1);
    let mut ask = |len: usize| {
        let h = format!("Bearer {}", "a".repeat(len));
        let mut headers = MapHeaders::new(&[(":path", "/x"), (":authority", "a.example"), ("authorization", &h)]);
        io.run(|io| g.decide(&mut headers, NOW_MS, true, io))
    };
    assert!(matches!(ask(MAX_OPAQUE_TOKEN), Decision::Call { .. }));
    assert!(matches!(ask(MAX_OPAQUE_TOKEN + 1), Decision::Deny(Denial::InvalidToken(JwtError::Malformed))));
}

#[test]
fn a_session_of_more_than_max_chunks_or_max_sealed_bytes_is_not_opened() {
    let c = login_config(json!({}));
    let config = &c.login.as_ref().unwrap().session;
    let mut s = alice(NOW_S, json!({}));
    // A session just within MAX_CHUNKS chunks opens.
    s.claims.insert("big".into(), json!("x".repeat(3800 * (MAX_CHUNKS / 2))));
    let cookies = session::write(config, &s, &[], &mut FixedRng(1)).expect("fits");
    assert!(cookies.len() <= MAX_CHUNKS);
    assert!(matches!(session::read(config, Some(&cookie_header(&cookies)), NOW_S), SessionState::Valid { .. }));
    // One chunk more than MAX_CHUNKS: not written, and a forged one is not read.
    s.claims.insert("big".into(), json!("x".repeat(3800 * (MAX_CHUNKS + 1))));
    assert!(session::write(config, &s, &[], &mut FixedRng(1)).is_none());
    let name = config.cookies.session();
    let forged: Vec<String> = (0..=MAX_CHUNKS).map(|i| format!("{name}_{i}=AAAA")).collect();
    assert!(matches!(session::read(config, Some(&forged.join("; ")), NOW_S), SessionState::Invalid));
    // An authentic sealed value over MAX_SEALED is refused before base64; under, it opens.
    let under = config.keys.seal(name, &vec![b'x'; MAX_SEALED / 2], &mut FixedRng(2)).unwrap();
    assert_eq!(config.keys.open(name, &under).map(|v| v.len()), Some(MAX_SEALED / 2));
    let over = config.keys.seal(name, &vec![b'x'; MAX_SEALED], &mut FixedRng(2)).unwrap();
    assert!(over.len() > MAX_SEALED && config.keys.open(name, &over).is_none());
}

#[test]
fn a_claim_over_max_header_value_leaves_its_header_unset() {
    let claims = |v: &str| json!({"name": v}).as_object().cloned().unwrap_or_default();
    assert!(claim_value(&claims(&"n".repeat(MAX_HEADER_VALUE)), "name").is_some());
    assert!(claim_value(&claims(&"n".repeat(MAX_HEADER_VALUE + 1)), "name").is_none());
}

#[test]
fn a_return_target_over_max_target_becomes_the_root() {
    let at = format!("/{}", "p".repeat(MAX_TARGET - 1));
    assert_eq!(Flow::new(&at, NOW_S, &mut FixedRng(1)).target, at);
    let over = format!("/{}", "p".repeat(MAX_TARGET));
    assert_eq!(Flow::new(&over, NOW_S, &mut FixedRng(1)).target, "/");
}

#[test]
fn a_cache_never_holds_more_than_its_size_and_the_size_is_capped() {
    let mut cache: TokenCache<Cached> = TokenCache::new(100);
    let entry = || Cached { exp: NOW_S + 60, refresh_at: u64::MAX, identity: Rc::new(Identity::default()), mark: None };
    for n in 0..10_000 {
        cache.insert(key_of(&format!("token-{n}")), entry(), NOW_S);
        assert!(cache.len() <= 100);
    }
    let size = |n: usize| {
        let cfg = config_json(json!({"bearer": {"audiences": ["api"], "cache_size": n}}));
        load(cfg.to_string().as_bytes(), &MapEnv::default()).is_ok()
    };
    assert!(size(crate::core::config::defaults::MAX_CACHE_SIZE));
    assert!(!size(crate::core::config::defaults::MAX_CACHE_SIZE + 1));
}
