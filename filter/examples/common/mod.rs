//! Test keys and tokens, a config with a session and a browser's `Cookie` header for it,
//! and the timer, for the examples (never in the filter).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, dead_code)]
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use oidc_gate::core::config::{self, secret::Env, Config};
use oidc_gate::core::rand::Random;
use oidc_gate::core::session::{self, Session};
use p256::ecdsa::signature::Signer;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// (JWKS, RS256, ES256, ES384, EdDSA tokens) over `claims`.
pub fn tokens(claims: &Value) -> (String, Vec<(&'static str, String)>) {
    let rsa = rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("../../testdata/rsa-a.pem")).unwrap();
    let p256 = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let p384 = p384::ecdsa::SigningKey::from_slice(&[9u8; 48]).unwrap();
    let ed = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([3u8; 32]));
    let (p2, p3) = (p256.verifying_key().to_encoded_point(false), p384.verifying_key().to_encoded_point(false));
    let jwks = json!({"keys": [
        {"kty": "RSA", "kid": "rs", "n": b64(&rsa.n().to_bytes_be()), "e": b64(&rsa.e().to_bytes_be())},
        {"kty": "EC", "crv": "P-256", "kid": "es256", "x": b64(p2.x().unwrap()), "y": b64(p2.y().unwrap())},
        {"kty": "EC", "crv": "P-384", "kid": "es384", "x": b64(p3.x().unwrap()), "y": b64(p3.y().unwrap())},
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64(ed.pk.as_ref())},
    ]});
    let sign = |alg: &str, kid: &str, f: &dyn Fn(&[u8]) -> Vec<u8>| {
        let input = format!(
            "{}.{}",
            b64(json!({"alg": alg, "kid": kid, "typ": "JWT"}).to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        format!("{input}.{}", b64(&f(input.as_bytes())))
    };
    let rs = sign("RS256", "rs", &|m| rsa.sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(m)).unwrap());
    let es = sign("ES256", "es256", &|m| {
        let s: p256::ecdsa::Signature = p256.sign(m);
        s.to_bytes().to_vec()
    });
    let es3 = sign("ES384", "es384", &|m| {
        let s: p384::ecdsa::Signature = p384.sign(m);
        s.to_bytes().to_vec()
    });
    let eds = sign("EdDSA", "ed", &|m| ed.sk.sign(m, None).to_vec());
    (jwks.to_string(), vec![("RS256", rs), ("ES256", es), ("ES384", es3), ("EdDSA", eds)])
}

/// The fastest of many short batches of `batch` calls, per call: on a shared machine the
/// minimum is what the code costs, the rest is other people's work.
pub fn time(label: &str, batch: u32, mut f: impl FnMut()) {
    use std::time::{Duration, Instant};
    let started = Instant::now();
    let mut best = f64::MAX;
    while started.elapsed() < Duration::from_millis(600) {
        let start = Instant::now();
        for _ in 0..batch {
            f();
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e6 / f64::from(batch));
    }
    println!("{label:<40} {best:>9.2} us");
}

/// No environment variables.
pub struct NoEnv;
impl Env for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

/// A fixed byte stream, for sealing in examples only.
pub struct Rng(pub u8);
impl Random for Rng {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_mul(31).wrapping_add(7);
            *b = self.0;
        }
    }
}

pub const ISSUER: &str = "https://idp.example.com";

/// A config with bearer tokens, a session key, three identity headers and a bypass rule.
pub fn config_json() -> Value {
    json!({"issuer": ISSUER, "idp_cluster": "idp", "client_id": "web",
        "client_secret": "s", "bearer": {"audiences": ["api://orders"]},
        "identity_headers": {"x-user-id": "sub", "x-user-email": "email", "x-user-name": "name"},
        "bypass": [{"prefix": "/healthz"}], "session": {"keys": ["MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="]}})
}

pub fn config() -> Config {
    config::load(config_json().to_string().as_bytes(), &NoEnv).unwrap()
}

/// A browser's `Cookie` header for `config`: 24 cookies of the app, then a session sealed
/// under its key (with a 900-byte ID token): 3.4 KB. Also the session cookie alone.
pub fn browser_cookie(config: &Config, now_s: u64) -> (String, String) {
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
    (format!("{pad}; {ours}"), ours)
}
