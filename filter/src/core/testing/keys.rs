//! Test keys and a token signer, for unit tests only.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, Pss, RsaPrivateKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::core::token::Alg;

pub enum TestKey {
    Rsa(Box<RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed(ed25519_compact::KeyPair),
}

pub fn rsa_a() -> TestKey {
    TestKey::Rsa(Box::new(RsaPrivateKey::from_pkcs8_pem(include_str!("../../../testdata/rsa-a.pem")).unwrap()))
}
pub fn rsa_b() -> TestKey {
    TestKey::Rsa(Box::new(RsaPrivateKey::from_pkcs8_pem(include_str!("../../../testdata/rsa-b.pem")).unwrap()))
}
pub fn rsa_1024() -> TestKey {
    TestKey::Rsa(Box::new(RsaPrivateKey::from_pkcs8_pem(include_str!("../../../testdata/rsa-1024.pem")).unwrap()))
}
pub fn p256_key() -> TestKey {
    TestKey::P256(p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap())
}
pub fn p384_key() -> TestKey {
    TestKey::P384(p384::ecdsa::SigningKey::from_slice(&[9u8; 48]).unwrap())
}
pub fn ed_key() -> TestKey {
    TestKey::Ed(ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([3u8; 32])))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl TestKey {
    /// The public JWK, with `kid`.
    pub fn jwk(&self, kid: &str) -> Value {
        match self {
            TestKey::Rsa(k) => {
                json!({"kty":"RSA","kid":kid,"use":"sig","n":b64(&k.n().to_bytes_be()),"e":b64(&k.e().to_bytes_be())})
            }
            TestKey::P256(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                json!({"kty":"EC","crv":"P-256","kid":kid,"x":b64(p.x().unwrap()),"y":b64(p.y().unwrap())})
            }
            TestKey::P384(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                json!({"kty":"EC","crv":"P-384","kid":kid,"x":b64(p.x().unwrap()),"y":b64(p.y().unwrap())})
            }
            TestKey::Ed(k) => json!({"kty":"OKP","crv":"Ed25519","kid":kid,"x":b64(k.pk.as_ref())}),
        }
    }

    fn sign_bytes(&self, alg: Alg, msg: &[u8]) -> Vec<u8> {
        let mut rng = rsa::rand_core::OsRng;
        match (self, alg) {
            (TestKey::Rsa(k), Alg::RS256) => k.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(msg)).unwrap(),
            (TestKey::Rsa(k), Alg::RS384) => k.sign(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(msg)).unwrap(),
            (TestKey::Rsa(k), Alg::RS512) => k.sign(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(msg)).unwrap(),
            (TestKey::Rsa(k), Alg::PS256) => {
                k.sign_with_rng(&mut rng, Pss::new::<Sha256>(), &Sha256::digest(msg)).unwrap()
            }
            (TestKey::Rsa(k), Alg::PS384) => {
                k.sign_with_rng(&mut rng, Pss::new::<Sha384>(), &Sha384::digest(msg)).unwrap()
            }
            (TestKey::Rsa(k), Alg::PS512) => {
                k.sign_with_rng(&mut rng, Pss::new::<Sha512>(), &Sha512::digest(msg)).unwrap()
            }
            (TestKey::P256(k), Alg::ES256) => {
                let s: p256::ecdsa::Signature = k.sign(msg);
                s.to_bytes().to_vec()
            }
            (TestKey::P384(k), Alg::ES384) => {
                let s: p384::ecdsa::Signature = k.sign(msg);
                s.to_bytes().to_vec()
            }
            (TestKey::Ed(k), Alg::EdDSA) => k.sk.sign(msg, None).to_vec(),
            _ => panic!("test key cannot sign {alg:?}"),
        }
    }
}

/// Signs `claims` with a JOSE header built from `header` (which must hold `alg`).
pub fn sign_with_header(key: &TestKey, header: Value, claims: &Value) -> String {
    let alg = Alg::parse(header["alg"].as_str().unwrap()).unwrap();
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let sig = key.sign_bytes(alg, input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

pub fn sign(key: &TestKey, alg: Alg, kid: &str, claims: &Value) -> String {
    sign_with_header(key, json!({"alg": alg.name(), "kid": kid, "typ": "JWT"}), claims)
}

/// A token with any header and no valid signature machinery (for `none` and HMAC cases).
pub fn unsigned(header: Value, claims: &Value, signature: &[u8]) -> String {
    format!("{}.{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()), b64(signature))
}

pub fn hs256(secret: &[u8], header: Value, claims: &Value) -> String {
    // HMAC-SHA256 by hand (RFC 2104), so the test needs no extra crate.
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let mut key = if secret.len() > 64 { Sha256::digest(secret).to_vec() } else { secret.to_vec() };
    key.resize(64, 0);
    let ipad: Vec<u8> = key.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = key.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new().chain_update(&ipad).chain_update(input.as_bytes()).finalize();
    let mac = Sha256::new().chain_update(&opad).chain_update(inner).finalize();
    format!("{input}.{}", b64(&mac))
}

pub fn jwks(keys: &[(&TestKey, &str)]) -> String {
    json!({"keys": keys.iter().map(|(k, kid)| k.jwk(kid)).collect::<Vec<_>>()}).to_string()
}
