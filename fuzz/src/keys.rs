//! The test keys of `core::testing::keys` (which is `cfg(test)` only, so rebuilt here):
//! RSA from `filter/testdata/rsa-a.pem`, P-256, P-384 and Ed25519 from the same fixed
//! seeds, and a JWS signer for each algorithm. Signatures are deterministic (PSS takes
//! its salt from a counter), so the seed corpora come out the same on every run.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use oidc_gate::core::token::Alg;
use p256::ecdsa::signature::Signer;
use rsa::pkcs8::DecodePrivateKey;
use rsa::rand_core::{CryptoRng, RngCore};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, Pss, RsaPrivateKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

pub enum Key {
    Rsa(Box<RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed(ed25519_compact::KeyPair),
}

pub fn rsa_a() -> Key {
    let pem = include_str!("../../filter/testdata/rsa-a.pem");
    Key::Rsa(Box::new(RsaPrivateKey::from_pkcs8_pem(pem).expect("filter/testdata/rsa-a.pem")))
}
pub fn p256_key() -> Key {
    Key::P256(p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("a P-256 scalar"))
}
pub fn p384_key() -> Key {
    Key::P384(p384::ecdsa::SigningKey::from_slice(&[9u8; 48]).expect("a P-384 scalar"))
}
pub fn ed_key() -> Key {
    Key::Ed(ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([3u8; 32])))
}

/// Every key with its `kid`, as the fixture JWKS lists them.
pub fn all() -> Vec<(Key, &'static str)> {
    vec![(rsa_a(), "rsa"), (p256_key(), "p256"), (p384_key(), "p384"), (ed_key(), "ed")]
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A counter as the PSS salt source: deterministic, which is all a fixture needs.
struct Counter(u8);

impl RngCore for Counter {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for Counter {}

impl Key {
    /// The public JWK, with `kid`.
    pub fn jwk(&self, kid: &str) -> Value {
        match self {
            Key::Rsa(k) => json!({"kty": "RSA", "kid": kid, "use": "sig",
                "n": b64(&k.n().to_bytes_be()), "e": b64(&k.e().to_bytes_be())}),
            Key::P256(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(p.x().expect("x")), "y": b64(p.y().expect("y"))})
            }
            Key::P384(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                json!({"kty": "EC", "crv": "P-384", "kid": kid, "x": b64(p.x().expect("x")), "y": b64(p.y().expect("y"))})
            }
            Key::Ed(k) => json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(k.pk.as_ref())}),
        }
    }

    /// The algorithms this key signs.
    pub fn algs(&self) -> &'static [Alg] {
        match self {
            Key::Rsa(_) => &[Alg::RS256, Alg::RS384, Alg::RS512, Alg::PS256, Alg::PS384, Alg::PS512],
            Key::P256(_) => &[Alg::ES256],
            Key::P384(_) => &[Alg::ES384],
            Key::Ed(_) => &[Alg::EdDSA],
        }
    }

    fn sign_bytes(&self, alg: Alg, msg: &[u8]) -> Vec<u8> {
        let mut rng = Counter(0);
        let rsa_sig = |r: rsa::Result<Vec<u8>>| r.expect("an RSA signature");
        match (self, alg) {
            (Key::Rsa(k), Alg::RS256) => rsa_sig(k.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(msg))),
            (Key::Rsa(k), Alg::RS384) => rsa_sig(k.sign(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(msg))),
            (Key::Rsa(k), Alg::RS512) => rsa_sig(k.sign(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(msg))),
            (Key::Rsa(k), Alg::PS256) => rsa_sig(k.sign_with_rng(&mut rng, Pss::new::<Sha256>(), &Sha256::digest(msg))),
            (Key::Rsa(k), Alg::PS384) => rsa_sig(k.sign_with_rng(&mut rng, Pss::new::<Sha384>(), &Sha384::digest(msg))),
            (Key::Rsa(k), Alg::PS512) => rsa_sig(k.sign_with_rng(&mut rng, Pss::new::<Sha512>(), &Sha512::digest(msg))),
            (Key::P256(k), Alg::ES256) => {
                let s: p256::ecdsa::Signature = k.sign(msg);
                s.to_bytes().to_vec()
            }
            (Key::P384(k), Alg::ES384) => {
                let s: p384::ecdsa::Signature = k.sign(msg);
                s.to_bytes().to_vec()
            }
            (Key::Ed(k), Alg::EdDSA) => k.sk.sign(msg, None).to_vec(),
            _ => panic!("this key cannot sign {alg:?}"),
        }
    }
}

/// A compact JWS of `claims` with the JOSE header `header` (which names `alg`).
pub fn sign_with_header(key: &Key, header: &Value, claims: &Value) -> String {
    let alg = header["alg"].as_str().and_then(|a| Alg::parse(a).ok()).expect("a known alg");
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let sig = key.sign_bytes(alg, input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

pub fn sign(key: &Key, alg: Alg, kid: &str, claims: &Value) -> String {
    sign_with_header(key, &json!({"alg": alg.name(), "kid": kid, "typ": "JWT"}), claims)
}

/// The JWKS of these keys.
pub fn jwks(keys: &[(Key, &str)]) -> String {
    json!({"keys": keys.iter().map(|(k, kid)| k.jwk(kid)).collect::<Vec<_>>()}).to_string()
}
