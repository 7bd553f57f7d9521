//! The fixture `scripts/verify-speed --module` drives the built modules with: a config,
//! a session cookie sealed under its key, provider metadata, a key set and an RS256
//! token, printed as one JSON object.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
use oidc_gate::core::config::{self, secret::Env};
use oidc_gate::core::rand::Random;
use oidc_gate::core::session::{self, Session};
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

mod common;

struct NoEnv;
impl Env for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

struct Rng(u8);
impl Random for Rng {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_mul(31).wrapping_add(7);
            *b = self.0;
        }
    }
}

fn main() {
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let issuer = "https://idp.example.com";
    let cfg = json!({"issuer": issuer, "idp_cluster": "idp", "client_id": "web",
        "client_secret": "s", "bearer": {"audiences": ["api://orders"]},
        "identity_headers": {"x-user-id": "sub", "x-user-email": "email"},
        "bypass": [{"prefix": "/healthz"}], "session": {"keys": [key]}});
    let config = config::load(cfg.to_string().as_bytes(), &NoEnv).unwrap();
    let now_s = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({"sub": "alice", "email": "alice@example.com", "name": "Alice Example"});
    let s = Session {
        sub: "alice".into(),
        iat: now_s,
        exp: now_s + 8 * 3600,
        seen: now_s,
        claims: claims.as_object().unwrap().clone(),
        id_token: Some("x".repeat(900)),
        refresh_token: None,
        access_token: None,
        access_exp: None,
        renewals: 0,
        sid: Some("sid-1".into()),
    };
    let set = session::write(&config.login.as_ref().unwrap().session, &s, &[], &mut Rng(1)).unwrap();
    let ours = set[0].split(';').next().unwrap().to_string();
    let pad = (0..24).map(|i| format!("pref{i}={}", "v".repeat(70))).collect::<Vec<_>>().join("; ");
    let claims = json!({"iss": issuer, "sub": "service", "aud": "api://orders",
        "exp": now_s + 3600, "iat": now_s, "scope": "api", "client_id": "service"});
    let (jwks, tokens) = common::tokens(&claims);
    let metadata = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks"),
        "authorization_endpoint": format!("{issuer}/auth"), "token_endpoint": format!("{issuer}/token")});
    let out = json!({"config": cfg, "cookie": format!("{pad}; {ours}"), "metadata": metadata,
        "jwks": serde_json::from_str::<serde_json::Value>(&jwks).unwrap(), "token": tokens[0].1});
    println!("{out}");
}
