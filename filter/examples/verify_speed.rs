//! Per-step timings of a bearer-token cache miss (decode, signature check per algorithm,
//! claims check), to run where the filter runs: built for wasm32-wasip1 and run in V8
//! (Node's WASI) by scripts/verify-speed; natively too with
//! `cargo run --release --example verify_speed`.
#![allow(clippy::unwrap_used)]
use oidc_gate::core::token::{decode, AlgSet, Expect, KeySet};
use serde_json::json;
use std::time::Duration;

mod common;
use common as keys;
use common::time;

fn main() {
    let claims = json!({"iss": "https://idp.example.com", "sub": "user-1", "aud": "api://orders",
        "exp": 4_000_000_000u64, "iat": 1_700_000_000u64, "scope": "api read write", "client_id": "service",
        "email": "user-1@example.com", "name": "User One", "groups": ["a", "b", "c"]});
    let (jwks, tokens) = keys::tokens(&claims);
    let keys = KeySet::parse(jwks.as_bytes()).unwrap();
    let audiences = vec!["api://orders".to_string()];
    let expect = Expect {
        issuer: "https://idp.example.com",
        audiences: &audiences,
        now_s: 1_800_000_000,
        skew: Duration::from_secs(60),
    };
    time("JWKS parse (4 keys)", 4, || {
        KeySet::parse(jwks.as_bytes()).unwrap();
    });
    for (alg, token) in &tokens {
        time(&format!("{alg}: decode"), 4, || {
            decode(token, AlgSet::all()).unwrap();
        });
        time(&format!("{alg}: decode + verify"), 4, || {
            decode(token, AlgSet::all()).unwrap().verify(&keys).unwrap();
        });
        if alg.starts_with("ES") {
            // An EC key makes its table of odd multiples at its first verification.
            time(&format!("{alg}: JWKS parse + first verify"), 4, || {
                let fresh = KeySet::parse(jwks.as_bytes()).unwrap();
                decode(token, AlgSet::all()).unwrap().verify(&fresh).unwrap();
            });
        }
        let jwt = decode(token, AlgSet::all()).unwrap().verify(&keys).unwrap();
        time(&format!("{alg}: check claims"), 4, || {
            jwt.check(&expect).unwrap();
        });
    }
}
