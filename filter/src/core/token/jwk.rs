//! JSON Web Keys (RFC 7517): the verifying keys of one issuer, parsed once per fetch.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

use super::rsa_pub::MontKey;
use super::Alg;

/// A public key able to verify signatures of some algorithms.
pub enum KeyMaterial {
    /// PKCS#1 v1.5 and PSS, both over the Montgomery form prepared here.
    Rsa(Box<MontKey>),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_compact::PublicKey),
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
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    d: Option<String>,
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
            match serde_json::from_value::<RawJwk>(value).ok().and_then(parse_key) {
                Some(k) => keys.push(k),
                None => skipped += 1,
            }
        }
        if keys.is_empty() {
            return Err(JwksError::NoUsableKeys);
        }
        Ok(KeySet { keys, skipped })
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

fn b64(field: &Option<String>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(field.as_deref()?).ok()
}

/// An EC public key's uncompressed SEC1 point from its `x` and `y`, each `len` bytes.
fn sec1(jwk: &RawJwk, len: usize) -> Option<Vec<u8>> {
    let (x, y) = (b64(&jwk.x)?, b64(&jwk.y)?);
    (x.len() == len && y.len() == len).then(|| [&[0x04u8][..], &x, &y].concat())
}

fn parse_key(jwk: RawJwk) -> Option<VerifyingKey> {
    // A private key in a public JWKS is a broken IdP; never use it.
    if jwk.d.is_some() {
        return None;
    }
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let alg = match jwk.alg.as_deref() {
        None => None,
        Some(a) => Some(Alg::parse(a).ok()?),
    };
    let material = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => {
            let (n_be, e_be) = (b64(&jwk.n)?, b64(&jwk.e)?);
            let key = MontKey::new(&n_be, &e_be)?;
            if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&key.bits()) {
                return None;
            }
            KeyMaterial::Rsa(Box::new(key))
        }
        ("EC", Some("P-256")) => KeyMaterial::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(&jwk, 32)?).ok()?),
        ("EC", Some("P-384")) => KeyMaterial::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(&jwk, 48)?).ok()?),
        ("OKP", Some("Ed25519")) => KeyMaterial::Ed25519(ed25519_compact::PublicKey::from_slice(&b64(&jwk.x)?).ok()?),
        _ => return None,
    };
    let key = VerifyingKey { kid: jwk.kid, alg, material };
    // A key whose `alg` does not fit its own type is unusable.
    if let Some(a) = key.alg {
        if !key.fits(a) {
            return None;
        }
    }
    Some(key)
}
