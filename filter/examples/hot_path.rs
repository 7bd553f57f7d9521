//! Per-request timings of the hot path's core work (a session hit, a cached bearer token),
//! in V8 like the filter: built for wasm32-wasip1 and run under Node's WASI by
//! `scripts/verify-speed --hot`; natively with `cargo run --release --example hot_path`.
//! What the core costs per request beside Envoy's own host calls.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
use oidc_gate::core::gate::{Counter, Decision, Gate, Io, LogLine, RequestHeaders};
use oidc_gate::core::identity::Identity;
use oidc_gate::core::session;
use oidc_gate::core::shared::LocalStore;
use oidc_gate::core::token::cache::{key_of, Cached, TokenCache};
use serde_json::json;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

mod common;
use common::{time, Rng};

struct Headers<'a>(&'a [(&'a str, String)]);
impl RequestHeaders for Headers<'_> {
    fn get(&mut self, name: &str) -> Option<String> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    }
}

fn main() {
    let config = Rc::new(common::config());
    let mut gate = Gate::new(config.clone());
    let now_s = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let (cookie, ours) = common::browser_cookie(&config, now_s);
    println!("session cookie {} bytes, Cookie header {} bytes", ours.len(), cookie.len());
    let headers = vec![
        (":path", "/".to_string()),
        (":method", "GET".to_string()),
        (":authority", "app.example.com".to_string()),
        ("accept", "text/html".to_string()),
        ("cookie", cookie.clone()),
    ];
    let (mut rng, mut store) = (Rng(2), LocalStore::default());
    let mut decide = |gate: &mut Gate, h: &[(&str, String)]| {
        let mut count = |_: Counter| {};
        let mut log = |_: LogLine| {};
        let mut io = Io { rng: &mut rng, shared: &mut store, count: &mut count, log: &mut log };
        gate.decide(&mut Headers(h), now_s * 1000 + 5, true, &mut io)
    };
    match decide(&mut gate, &headers) {
        Decision::Allow { .. } => {}
        other => panic!("not allowed: {other:?}"),
    }
    time("session hit: decide", 64, || {
        std::hint::black_box(decide(&mut gate, &headers));
    });
    let sessions = &config.login.as_ref().unwrap().session;
    time("  find the sealed value in Cookie", 64, || {
        std::hint::black_box(session::sealed_value(sessions, &cookie));
    });
    time("  open + parse the session (uncached)", 64, || {
        std::hint::black_box(session::read(sessions, Some(&cookie), now_s));
    });
    // The worker's cache of opened sessions, as the gate looks a session up.
    let mut cache: TokenCache = TokenCache::new(1024);
    let sealed = session::sealed_value(sessions, &cookie).unwrap().into_owned();
    let entry = Cached { exp: now_s + 3600, refresh_at: u64::MAX, identity: Rc::new(Identity::default()), mark: None };
    cache.insert(key_of(&sealed), entry, now_s);
    time("  session cache lookup (the sealed value)", 64, || {
        std::hint::black_box(cache.get(&sealed, now_s));
    });
    let names = &sessions.cookies;
    time("  Cookie without ours (upstream)", 64, || {
        std::hint::black_box(oidc_gate::core::web::cookies::without(&cookie, |n| names.owns(n)));
    });
    time("  copy the Cookie header", 64, || {
        std::hint::black_box(cookie.clone());
    });
    // A bearer token, its issuer's keys loaded.
    let claims = json!({"iss": "https://idp.example.com", "sub": "service", "aud": "api://orders",
        "exp": now_s + 3600, "iat": now_s, "scope": "api", "client_id": "service"});
    let (jwks, tokens) = common::tokens(&claims);
    let doc = json!({"issuer": "https://idp.example.com", "jwks_uri": "https://idp.example.com/jwks",
        "authorization_endpoint": "https://idp.example.com/auth", "token_endpoint": "https://idp.example.com/token"});
    let now_ms = now_s * 1000;
    for body in [doc.to_string(), jwks] {
        let (kind, _) = gate.providers[0].poll(now_ms, &config.clusters).unwrap();
        gate.providers[0].on_response(kind, Some(200), body.as_bytes(), now_ms, config.metadata_refresh);
    }
    let api = vec![
        (":path", "/orders".to_string()),
        (":method", "GET".to_string()),
        (":authority", "api.example.com".to_string()),
        ("authorization", format!("Bearer {}", tokens[0].1)),
    ];
    match decide(&mut gate, &api) {
        Decision::Allow { .. } => {}
        other => panic!("not allowed: {other:?}"),
    }
    time("bearer hit (RS256 token, cached): decide", 64, || {
        std::hint::black_box(decide(&mut gate, &api));
    });
    let bypass = vec![(":path", "/healthz".to_string()), (":method", "GET".to_string())];
    time("bypassed path: decide", 64, || {
        std::hint::black_box(decide(&mut gate, &bypass));
    });
}
