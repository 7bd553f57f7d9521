//! Test keys and tokens, and the timer, for the examples (never in the filter).
#![allow(clippy::unwrap_used, dead_code)]
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
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
