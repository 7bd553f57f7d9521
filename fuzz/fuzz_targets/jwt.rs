//! A bearer token or ID token, as a client or the IdP sends it: `token::decode`,
//! `Untrusted::verify` against the fixture JWKS (RSA, P-256, P-384, Ed25519; every
//! algorithm allowed), then `Jwt::access_token` and `Jwt::check`.
//!
//! Input: the token's bytes (lossy UTF-8). The seeds are tokens the fixture keys signed,
//! for every algorithm, with and without `kid`, valid and refused by their claims.
//! Properties:
//! - nothing panics;
//! - a token verifies only if its signed part (`header.payload`, byte for byte) is one
//!   the fixture signed: a mutation of a signed token never verifies unless the
//!   signature alone changed (no forgery, no confusion of algorithm or key);
//! - a token that passes `check` has `iss` = the expected issuer, an `aud` (string or
//!   array) naming an expected audience, and `exp`, `nbf`, `iat` that allow `now` within
//!   the skew; `check` returns its `exp`.
#![no_main]

use std::collections::HashSet;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use oidc_gate::core::token::{decode, AlgSet, Expect, KeySet};
use oidc_gate_fuzz::scene::jwt_seeds;
use oidc_gate_fuzz::{jwks, ISS, NOW_S};
use serde_json::{Map, Value};

struct Fixture {
    keys: KeySet,
    signed: HashSet<String>,
}

thread_local! {
    static FIXTURE: Fixture = Fixture {
        keys: KeySet::parse(jwks().as_bytes()).expect("the fixture JWKS"),
        signed: jwt_seeds().iter().filter_map(|t| t.rsplit_once('.').map(|(input, _)| input.to_string())).collect(),
    };
}

const SKEW: Duration = Duration::from_secs(60);

fuzz_target!(|data: &[u8]| {
    FIXTURE.with(|f| run(f, data));
});

fn run(f: &Fixture, data: &[u8]) {
    let token = String::from_utf8_lossy(data);
    let Ok(untrusted) = decode(&token, AlgSet::all()) else { return };
    let _ = untrusted.unverified_issuer();
    let Ok(jwt) = untrusted.verify(&f.keys) else { return };
    let signed_part = token.rsplit_once('.').map_or("", |(input, _)| input);
    assert!(f.signed.contains(signed_part), "a token the fixture never signed verified: {token:?}");
    let _ = jwt.access_token();

    let audiences = ["api".to_string(), "web".to_string()];
    for now_s in [NOW_S, NOW_S - 4000, NOW_S + 4000, 0, u64::MAX] {
        let expect = Expect { issuer: ISS, audiences: &audiences, now_s, skew: SKEW };
        if let Ok(exp) = jwt.check(&expect) {
            passes(jwt.claims(), &audiences, now_s, exp);
        }
    }
}

/// What a token that passed `check` must be, read from its claims independently.
fn passes(claims: &Map<String, Value>, audiences: &[String], now_s: u64, exp: u64) {
    assert_eq!(claims.get("iss").and_then(Value::as_str), Some(ISS), "passed with another issuer");
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => audiences.contains(a),
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str().is_some_and(|a| audiences.iter().any(|x| x == a))),
        _ => false,
    };
    assert!(aud_ok, "passed without an expected audience: {:?}", claims.get("aud"));
    let date = |name: &str| claims.get(name).and_then(Value::as_f64);
    let claimed_exp = date("exp").expect("passed without exp");
    assert_eq!(exp, claimed_exp.floor() as u64, "check returned another exp");
    let skew = SKEW.as_secs() as f64;
    let now = now_s as f64;
    assert!(now <= claimed_exp + skew + 1.0, "passed expired: exp {claimed_exp} now {now_s}");
    for name in ["nbf", "iat"] {
        if let Some(t) = date(name) {
            assert!(t <= now + skew + 1.0, "passed before {name} {t} (now {now_s})");
        }
    }
}
