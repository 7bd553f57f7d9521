//! Reading the gate's own private keys: PKCS#8 PEM (`BEGIN PRIVATE KEY`), SEC1 PEM
//! (`BEGIN EC PRIVATE KEY`), PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`) or a private JWK.
//! Errors say what is wrong, never what the key is.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::DecodePrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Map, Value};
use std::fmt;

use super::Algorithm;

/// RSA keys this size (bits) or larger are refused as too slow to sign with in wasm.
pub const MAX_RSA_BITS: usize = 4096;
/// RSA keys below this size (bits) are refused as too weak.
pub const MIN_RSA_BITS: usize = 2048;

/// A private key as read, before its `kid` is settled.
pub enum Parsed {
    Es256(p256::SecretKey),
    Rs256(Box<rsa::RsaPrivateKey>),
}

/// Why a key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// Neither a PEM block nor a JSON object.
    NotAKey,
    /// A PEM or JWK that does not decode as the kind it claims.
    Invalid,
    /// A key of another kind (a certificate, a public key, an encrypted key, another curve).
    Unsupported,
    /// An RSA key where only P-256 is accepted.
    RsaNotAllowed,
    /// An RSA key outside 2048..=4096 bits.
    RsaSize,
    /// A JWK whose public part does not match its private part.
    Mismatch,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyError::NotAKey => "is not a private key (a PEM block or a JWK)",
            KeyError::Invalid => "is not a valid private key",
            KeyError::Unsupported => {
                "is not a supported private key (unencrypted PKCS#8, SEC1 or PKCS#1 PEM, or a private JWK)"
            }
            KeyError::RsaNotAllowed => "must be a P-256 (ES256) key",
            KeyError::RsaSize => "must be an RSA key of 2048 to 4096 bits",
            KeyError::Mismatch => "is a JWK whose public part does not match its private key",
        })
    }
}

/// Reads a key; `rsa` says whether an RSA key is accepted. Returns the key and the JWK's
/// own `kid` when it had one.
pub fn parse(text: &str, rsa: bool) -> Result<(Parsed, Option<String>), KeyError> {
    let text = text.trim();
    let parsed = if text.starts_with('{') {
        return jwk(text, rsa);
    } else if text.starts_with("-----BEGIN PRIVATE KEY-----") {
        match p256::SecretKey::from_pkcs8_pem(text) {
            Ok(k) => Parsed::Es256(k),
            Err(_) => {
                let key = rsa::RsaPrivateKey::from_pkcs8_pem(text).map_err(|_| KeyError::Unsupported)?;
                Parsed::Rs256(Box::new(key))
            }
        }
    } else if text.starts_with("-----BEGIN EC PRIVATE KEY-----") {
        Parsed::Es256(p256::SecretKey::from_sec1_pem(text).map_err(|_| KeyError::Unsupported)?)
    } else if text.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
        Parsed::Rs256(Box::new(rsa::RsaPrivateKey::from_pkcs1_pem(text).map_err(|_| KeyError::Invalid)?))
    } else if text.starts_with("-----BEGIN ") {
        return Err(KeyError::Unsupported);
    } else {
        return Err(KeyError::NotAKey);
    };
    Ok((checked(parsed, rsa)?, None))
}

fn checked(parsed: Parsed, rsa: bool) -> Result<Parsed, KeyError> {
    if let Parsed::Rs256(key) = &parsed {
        if !rsa {
            return Err(KeyError::RsaNotAllowed);
        }
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&(key.size() * 8)) {
            return Err(KeyError::RsaSize);
        }
        key.validate().map_err(|_| KeyError::Invalid)?;
    }
    Ok(parsed)
}

fn jwk(text: &str, rsa: bool) -> Result<(Parsed, Option<String>), KeyError> {
    let jwk: Map<String, Value> = serde_json::from_str(text).map_err(|_| KeyError::NotAKey)?;
    let field = |name: &str| -> Result<Vec<u8>, KeyError> {
        let text = jwk.get(name).and_then(Value::as_str).ok_or(KeyError::Invalid)?;
        URL_SAFE_NO_PAD.decode(text).map_err(|_| KeyError::Invalid)
    };
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(k)) if !k.is_empty() && k.len() <= 256 && !k.contains(['"', '\\']) => Some(k.clone()),
        Some(_) => return Err(KeyError::Invalid),
    };
    let parsed = match (jwk.get("kty").and_then(Value::as_str), jwk.get("crv").and_then(Value::as_str)) {
        (Some("EC"), Some("P-256")) => {
            let d = field("d")?;
            let key = p256::SecretKey::from_slice(&d).map_err(|_| KeyError::Invalid)?;
            let point = key.public_key().to_encoded_point(false);
            let (x, y) = (field("x")?, field("y")?);
            if point.x().map(|v| &v[..]) != Some(&x[..]) || point.y().map(|v| &v[..]) != Some(&y[..]) {
                return Err(KeyError::Mismatch);
            }
            Parsed::Es256(key)
        }
        (Some("RSA"), _) => {
            let int = |name: &str| field(name).map(|b| rsa::BigUint::from_bytes_be(&b));
            let primes = vec![int("p")?, int("q")?];
            let key = rsa::RsaPrivateKey::from_components(int("n")?, int("e")?, int("d")?, primes)
                .map_err(|_| KeyError::Invalid)?;
            Parsed::Rs256(Box::new(key))
        }
        _ => return Err(KeyError::Unsupported),
    };
    Ok((checked(parsed, rsa)?, kid))
}

impl Parsed {
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Parsed::Es256(_) => Algorithm::Es256,
            Parsed::Rs256(_) => Algorithm::Rs256,
        }
    }

    /// The public JWK's required members in RFC 7638 order (`crv kty x y`, `e kty n`): the
    /// text whose SHA-256 is the thumbprint, and the members of the published JWK.
    pub fn public_members(&self) -> Vec<(&'static str, String)> {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        match self {
            Parsed::Es256(k) => {
                let point = k.public_key().to_encoded_point(false);
                let coordinate = |c: Option<&p256::FieldBytes>| c.map(|v| b64(v)).unwrap_or_default();
                vec![
                    ("crv", "P-256".into()),
                    ("kty", "EC".into()),
                    ("x", coordinate(point.x())),
                    ("y", coordinate(point.y())),
                ]
            }
            Parsed::Rs256(k) => {
                vec![("e", b64(&k.e().to_bytes_be())), ("kty", "RSA".into()), ("n", b64(&k.n().to_bytes_be()))]
            }
        }
    }
}
