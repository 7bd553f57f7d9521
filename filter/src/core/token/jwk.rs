//! JSON Web Keys (RFC 7517): the verifying keys of one issuer, parsed once per fetch.

use jwt_compact::jwk::JsonWebKey;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::ecdsa;
use super::rsa_pub::MontKey;
use super::Alg;

/// A public key able to verify signatures of some algorithms.
pub enum KeyMaterial {
    /// PKCS#1 v1.5 and PSS, both over the Montgomery form prepared here.
    Rsa(Box<MontKey>),
    /// Boxed: each carries, from its first verification, its tables of odd multiples (2
    /// and 3 KB, boxed apart).
    P256(Box<ecdsa::P256Key>),
    P384(Box<ecdsa::P384Key>),
    /// Boxed: the decompressed point beside its encoding (192 bytes).
    Ed25519(Box<ed25519_dalek::VerifyingKey>),
}

pub struct VerifyingKey {
    pub kid: Option<String>,
    /// The JWK's `alg`, when it names one: the key is then used for that algorithm only.
    pub alg: Option<Alg>,
    pub material: KeyMaterial,
}

impl VerifyingKey {
    /// Whether this key may verify a token signed with `alg`.
    pub fn fits(&self, alg: Alg) -> bool {
        if self.alg.is_some_and(|a| a != alg) {
            return false;
        }
        matches!(
            (&self.material, alg),
            (KeyMaterial::Rsa(_), Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512)
                | (KeyMaterial::P256(_), Alg::ES256)
                | (KeyMaterial::P384(_), Alg::ES384)
                | (KeyMaterial::Ed25519(_), Alg::EdDSA)
        )
    }
}

/// The keys of one JWKS document. Keys this filter cannot use are skipped and counted.
pub struct KeySet {
    pub keys: Vec<VerifyingKey>,
    pub skipped: usize,
    /// The first 16 bytes of the SHA-256 of the JWKS document: tokens verified under
    /// other keys are not taken from the shared cache.
    pub fingerprint: [u8; 16],
}

#[derive(Debug, PartialEq, Eq)]
pub enum JwksError {
    NotJson,
    NoUsableKeys,
}

impl std::fmt::Display for JwksError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JwksError::NotJson => "JWKS is not a JSON object with a \"keys\" array",
            JwksError::NoUsableKeys => "JWKS has no usable signing key",
        })
    }
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<Value>,
}

/// What a JWK says about its use; the key material is read as jwt-compact's
/// [`JsonWebKey`].
#[derive(Deserialize)]
struct KeyUse {
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    /// A private key's secret (RSA's `d` alone is not enough for jwt-compact's type to
    /// see a private key, so it is checked here).
    #[serde(default)]
    d: Option<Value>,
}

/// RSA keys shorter than this are refused (RFC 7518 section 3.3 requires 2048).
const MIN_RSA_BITS: usize = 2048;
/// The largest modulus kept: a public operation costs the square of its length.
const MAX_RSA_BITS: usize = 4096;

impl KeySet {
    pub fn parse(body: &[u8]) -> Result<KeySet, JwksError> {
        let raw: RawJwks = serde_json::from_slice(body).map_err(|_| JwksError::NotJson)?;
        let mut keys = Vec::new();
        let mut skipped = 0;
        for value in raw.keys {
            match parse_key(&value) {
                Some(k) => keys.push(k),
                None => skipped += 1,
            }
        }
        if keys.is_empty() {
            return Err(JwksError::NoUsableKeys);
        }
        let mut fingerprint = [0u8; 16];
        fingerprint.copy_from_slice(Sha256::digest(body).get(..16).unwrap_or(&[0u8; 16]));
        Ok(KeySet { keys, skipped, fingerprint })
    }

    /// Picks the key for a token: by `kid` when the token has one, else the only key
    /// that fits the algorithm.
    pub fn select(&self, kid: Option<&str>, alg: Alg) -> Option<&VerifyingKey> {
        match kid {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid) && k.fits(alg)),
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.fits(alg));
                let first = fitting.next()?;
                fitting.next().is_none().then_some(first)
            }
        }
    }
}

fn parse_key(value: &Value) -> Option<VerifyingKey> {
    let meta = KeyUse::deserialize(value).ok()?;
    // A private key in a public JWKS is a broken IdP; never use it.
    if meta.d.is_some() {
        return None;
    }
    if meta.use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let alg = match meta.alg.as_deref() {
        None => None,
        Some(a) => Some(Alg::parse(a).ok()?),
    };
    let jwk = JsonWebKey::deserialize(value).ok()?;
    let material = match &jwk {
        JsonWebKey::Rsa { modulus, public_exponent, private_parts: None } => {
            let key = MontKey::new(modulus, public_exponent)?;
            if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&key.bits()) {
                return None;
            }
            KeyMaterial::Rsa(Box::new(key))
        }
        JsonWebKey::EllipticCurve { curve, x, y, secret: None } if curve == "P-256" => {
            KeyMaterial::P256(Box::new(ecdsa::PublicKey::from_xy(&ecdsa::P256, x, y)?))
        }
        JsonWebKey::EllipticCurve { curve, x, y, secret: None } if curve == "P-384" => {
            KeyMaterial::P384(Box::new(ecdsa::PublicKey::from_xy(&ecdsa::P384, x, y)?))
        }
        JsonWebKey::KeyPair { curve, x, secret: None } if curve == "Ed25519" => {
            KeyMaterial::Ed25519(Box::new(ed25519_key(x.as_ref().try_into().ok()?)?))
        }
        _ => return None,
    };
    let key = VerifyingKey { kid: meta.kid, alg, material };
    // A key whose `alg` does not fit its own type is unusable.
    if let Some(a) = key.alg {
        if !key.fits(a) {
            return None;
        }
    }
    Some(key)
}

/// An Ed25519 public key as RFC 8032 section 5.1.3 decodes it: y canonical (below
/// p = 2^255 - 19), a point on the curve, and not of small order (anyone could sign for
/// those). Refused keys are skipped like any other unusable key.
fn ed25519_key(x: &[u8; 32]) -> Option<ed25519_dalek::VerifyingKey> {
    // y >= p: the top byte 0x7f (sign bit aside), the middle all 0xff, the lowest >= 0xed.
    let (low, middle, top) = (x.first()?, x.get(1..31)?, x.last()?);
    if top & 0x7f == 0x7f && middle.iter().all(|b| *b == 0xff) && *low >= 0xed {
        return None;
    }
    let key = ed25519_dalek::VerifyingKey::from_bytes(x).ok()?;
    (!key.is_weak()).then_some(key)
}
