//! The gate's own signatures: JWTs signed with keys from the configuration (the identity
//! assertion's P-256 keys, the client key of `private_key_jwt`), and their public JWKs.
//! ES256 is p256's (RFC 6979 deterministic nonces, constant time); RS256 is the `rsa`
//! crate's PKCS#1 v1.5 with blinding, its randomness from the core's [`Random`].

pub mod key;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::core::rand::Random;
pub use key::KeyError;
use key::Parsed;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Es256,
    Rs256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Rs256 => "RS256",
        }
    }
}

enum Signing {
    Es256(p256::ecdsa::SigningKey),
    Rs256(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
}

/// A private key ready to sign JWTs, with its `kid` and public JWK. `Debug` shows only
/// the algorithm and `kid`.
pub struct SigningKey {
    algorithm: Algorithm,
    pub kid: String,
    /// The JOSE header, base64url: `{"alg":…,"kid":…,"typ":"JWT"}`, encoded once.
    header: String,
    /// The public JWK (with `kid`, `use`, `alg`), as published.
    pub public_jwk: Value,
    key: Signing,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey {{ {}, kid: {:?} }}", self.algorithm.name(), self.kid)
    }
}

/// A signature that could not be made (the RSA operation failed; not expected with a
/// key that passed its checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignError;

impl SigningKey {
    /// Reads a private key (PEM or JWK); `rsa` says whether RSA keys are accepted. The
    /// `kid` is the JWK's own, else the RFC 7638 thumbprint of the public key.
    pub fn parse(text: &str, rsa: bool) -> Result<SigningKey, KeyError> {
        let (parsed, kid) = key::parse(text, rsa)?;
        let members = parsed.public_members();
        let kid = kid.unwrap_or_else(|| thumbprint(&members));
        let algorithm = parsed.algorithm();
        let mut jwk: Map<String, Value> = members.into_iter().map(|(k, v)| (k.to_string(), Value::String(v))).collect();
        jwk.insert("kid".into(), Value::String(kid.clone()));
        jwk.insert("use".into(), "sig".into());
        jwk.insert("alg".into(), algorithm.name().into());
        let header = serde_json::json!({"alg": algorithm.name(), "kid": kid, "typ": "JWT"}).to_string();
        let key = match parsed {
            Parsed::Es256(k) => Signing::Es256(p256::ecdsa::SigningKey::from(k)),
            Parsed::Rs256(k) => Signing::Rs256(Box::new(rsa::pkcs1v15::SigningKey::<Sha256>::new(*k))),
        };
        Ok(SigningKey { algorithm, kid, header: URL_SAFE_NO_PAD.encode(header), public_jwk: Value::Object(jwk), key })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// A compact JWS of `claims` (a JSON object's text). ES256 needs no randomness; RS256
    /// blinds the private-key operation with bytes from `rng`.
    pub fn sign(&self, claims: &str, rng: &mut dyn Random) -> Result<String, SignError> {
        let mut jwt = String::with_capacity(self.header.len() + claims.len() * 4 / 3 + 360);
        jwt.push_str(&self.header);
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut jwt);
        let signature = match &self.key {
            Signing::Es256(k) => {
                let s: p256::ecdsa::Signature = k.sign(jwt.as_bytes());
                s.to_bytes().to_vec()
            }
            Signing::Rs256(k) => {
                let mut rng = BlindingRng::from(rng);
                k.try_sign_with_rng(&mut rng, jwt.as_bytes()).map_err(|_| SignError)?.to_vec()
            }
        };
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut jwt);
        Ok(jwt)
    }
}

/// RFC 7638: SHA-256 of the required public members, in order, as compact JSON.
fn thumbprint(members: &[(&'static str, String)]) -> String {
    let object: Map<String, Value> = members.iter().map(|(k, v)| (k.to_string(), Value::String(v.clone()))).collect();
    // serde_json's Map keeps keys sorted (no preserve_order), which is the order RFC 7638 asks.
    URL_SAFE_NO_PAD.encode(Sha256::digest(Value::Object(object).to_string()))
}

/// A JWKS document of these keys' public JWKs.
pub fn jwks(keys: &[SigningKey]) -> String {
    let keys: Vec<&Value> = keys.iter().map(|k| &k.public_jwk).collect();
    serde_json::json!({ "keys": keys }).to_string()
}

/// The generator the `rsa` crate's blinding draws from: ChaCha20 keyed with 32 bytes of
/// the core's randomness. Its stream never repeats, so the crate's rejection sampling
/// always ends, whatever the source gave (a failed host source is refused by the shell).
struct BlindingRng(chacha20::ChaCha20);

impl BlindingRng {
    fn from(source: &mut dyn Random) -> Self {
        use chacha20::cipher::KeyIvInit;
        let mut key = [0u8; 32];
        source.fill(&mut key);
        BlindingRng(chacha20::ChaCha20::new(&key.into(), &[0u8; 12].into()))
    }
}

impl rand_core::RngCore for BlindingRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        use chacha20::cipher::StreamCipher;
        dest.fill(0);
        self.0.apply_keystream(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for BlindingRng {}

#[cfg(test)]
mod tests;
