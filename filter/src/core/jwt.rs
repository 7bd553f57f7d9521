//! JSON Web Tokens (RFC 7519) signed with JWS (RFC 7515): decoding, signature
//! verification against a [`KeySet`], and the registered-claim checks.
//!
//! Only asymmetric algorithms exist here: `none` and every HMAC algorithm are
//! refused before any key is looked at, so a public key can never act as an
//! HMAC secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::jwk::{KeyMaterial, KeySet, VerifyingKey};

/// Tokens longer than this are refused without decoding.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[allow(clippy::upper_case_acronyms)]
pub enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl Alg {
    pub const ALL: [Alg; 9] =
        [Alg::RS256, Alg::RS384, Alg::RS512, Alg::PS256, Alg::PS384, Alg::PS512, Alg::ES256, Alg::ES384, Alg::EdDSA];

    pub fn parse(name: &str) -> Result<Alg, JwtError> {
        Alg::ALL.into_iter().find(|a| a.name() == name).ok_or(JwtError::DisallowedAlg)
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::EdDSA => "EdDSA",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of allowed algorithms.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AlgSet(u16);

impl AlgSet {
    pub fn all() -> Self {
        AlgSet(Alg::ALL.iter().fold(0, |acc, a| acc | a.bit()))
    }
    pub fn empty() -> Self {
        AlgSet(0)
    }
    pub fn insert(&mut self, alg: Alg) {
        self.0 |= alg.bit();
    }
    pub fn contains(self, alg: Alg) -> bool {
        self.0 & alg.bit() != 0
    }
}

/// Why a token was refused. Each maps to a reason counter and an RFC 6750 description.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum JwtError {
    /// Not three base64url parts, bad JSON, bad claim types, or too large.
    Malformed,
    /// `none`, an HMAC algorithm, or one not in the allow-list.
    DisallowedAlg,
    /// `iss` names no configured issuer.
    UnknownIssuer,
    /// No key with the token's `kid` (or no single key that fits when `kid` is absent).
    UnknownKey,
    BadSignature,
    Expired,
    /// `nbf` or `iat` lies in the future beyond the clock skew.
    NotYetValid,
    /// `exp` absent: tokens without an expiry are refused.
    MissingExp,
    WrongAudience,
    /// The header carries `crit` extensions this filter does not understand.
    UnsupportedCrit,
    /// An ID token (it carries a login `nonce`) offered as a bearer access token.
    IdTokenAsBearer,
}

impl JwtError {
    /// Stable short name, used in counters and logs.
    pub fn reason(self) -> &'static str {
        match self {
            JwtError::Malformed => "malformed",
            JwtError::DisallowedAlg => "disallowed_alg",
            JwtError::UnknownIssuer => "unknown_issuer",
            JwtError::UnknownKey => "unknown_key",
            JwtError::BadSignature => "bad_signature",
            JwtError::Expired => "expired",
            JwtError::NotYetValid => "not_yet_valid",
            JwtError::MissingExp => "missing_exp",
            JwtError::WrongAudience => "wrong_audience",
            JwtError::UnsupportedCrit => "unsupported_crit",
            JwtError::IdTokenAsBearer => "id_token",
        }
    }

    /// Text for `error_description`: says what is wrong, nothing about the keys.
    pub fn description(self) -> &'static str {
        match self {
            JwtError::Malformed => "The access token is malformed",
            JwtError::DisallowedAlg => "The access token's signing algorithm is not allowed",
            JwtError::UnknownIssuer => "The access token's issuer is not trusted",
            JwtError::UnknownKey => "The access token is signed by an unknown key",
            JwtError::BadSignature => "The access token's signature is invalid",
            JwtError::Expired => "The access token expired",
            JwtError::NotYetValid => "The access token is not valid yet",
            JwtError::MissingExp => "The access token has no expiry",
            JwtError::WrongAudience => "The access token is not meant for this audience",
            JwtError::UnsupportedCrit => "The access token uses unsupported critical extensions",
            JwtError::IdTokenAsBearer => "An ID token is not an access token",
        }
    }
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// A token split and decoded, its signature not yet checked: nothing in it is trusted.
pub struct Untrusted<'a> {
    pub alg: Alg,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    signing_input: &'a [u8],
    signature: Vec<u8>,
}

/// Splits and decodes a compact JWS. Refuses disallowed algorithms before anything else.
pub fn decode(token: &str, allowed: AlgSet) -> Result<Untrusted<'_>, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed);
    };
    let header_bytes = URL_SAFE_NO_PAD.decode(h).map_err(|_| JwtError::Malformed)?;
    let header: RawHeader = serde_json::from_slice(&header_bytes).map_err(|_| JwtError::Malformed)?;
    let alg = Alg::parse(&header.alg)?;
    if !allowed.contains(alg) {
        return Err(JwtError::DisallowedAlg);
    }
    if header.crit.is_some() {
        return Err(JwtError::UnsupportedCrit);
    }
    let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| JwtError::Malformed)?;
    let claims: Map<String, Value> = serde_json::from_slice(&payload).map_err(|_| JwtError::Malformed)?;
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)?;
    let signing_input = token.get(..h.len() + 1 + p.len()).ok_or(JwtError::Malformed)?.as_bytes();
    Ok(Untrusted { alg, kid: header.kid, claims, signing_input, signature })
}

impl Untrusted<'_> {
    /// The `iss` claim as the token states it (untrusted until the signature checks).
    pub fn stated_issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    /// Checks the signature with the key the token names.
    pub fn verify_signature(&self, keys: &KeySet) -> Result<(), JwtError> {
        let key = keys.select(self.kid.as_deref(), self.alg).ok_or(JwtError::UnknownKey)?;
        if verify(key, self.alg, self.signing_input, &self.signature) {
            Ok(())
        } else {
            Err(JwtError::BadSignature)
        }
    }
}

fn verify(key: &VerifyingKey, alg: Alg, msg: &[u8], sig: &[u8]) -> bool {
    use super::rsa_pub::verify_pkcs1v15;
    use p256::ecdsa::signature::Verifier;
    use rsa::Pss;
    match (&key.material, alg) {
        (KeyMaterial::Rsa(k), Alg::RS256) => verify_pkcs1v15(&k.1, &Sha256::digest(msg), sig),
        (KeyMaterial::Rsa(k), Alg::RS384) => verify_pkcs1v15(&k.1, &Sha384::digest(msg), sig),
        (KeyMaterial::Rsa(k), Alg::RS512) => verify_pkcs1v15(&k.1, &Sha512::digest(msg), sig),
        (KeyMaterial::Rsa(k), Alg::PS256) => k.0.verify(Pss::new::<Sha256>(), &Sha256::digest(msg), sig).is_ok(),
        (KeyMaterial::Rsa(k), Alg::PS384) => k.0.verify(Pss::new::<Sha384>(), &Sha384::digest(msg), sig).is_ok(),
        (KeyMaterial::Rsa(k), Alg::PS512) => k.0.verify(Pss::new::<Sha512>(), &Sha512::digest(msg), sig).is_ok(),
        (KeyMaterial::P256(k), Alg::ES256) => {
            p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
        }
        (KeyMaterial::P384(k), Alg::ES384) => {
            p384::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
        }
        (KeyMaterial::Ed25519(k), Alg::EdDSA) => {
            ed25519_compact::Signature::from_slice(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
        }
        _ => false,
    }
}

/// What the registered claims are checked against.
pub struct Expect<'a> {
    pub issuer: &'a str,
    pub audiences: &'a [String],
    pub now: u64,
    pub skew: u64,
}

/// Reads a NumericDate claim; `Ok(None)` when absent.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => {
            let f = v.as_f64().ok_or(JwtError::Malformed)?;
            if !(0.0..=1e13).contains(&f) {
                return Err(JwtError::Malformed);
            }
            Ok(Some(f.floor() as u64))
        }
    }
}

/// Checks `iss`, `aud`, `exp`, `nbf` and `iat`. Returns `exp`.
pub fn check_claims(claims: &Map<String, Value>, expect: &Expect<'_>) -> Result<u64, JwtError> {
    let exp = numeric_date(claims, "exp")?.ok_or(JwtError::MissingExp)?;
    let nbf = numeric_date(claims, "nbf")?;
    let iat = numeric_date(claims, "iat")?;
    if claims.get("iss").and_then(Value::as_str) != Some(expect.issuer) {
        return Err(JwtError::UnknownIssuer);
    }
    if expect.now > exp.saturating_add(expect.skew) {
        return Err(JwtError::Expired);
    }
    let latest_start = expect.now.saturating_add(expect.skew);
    if nbf.is_some_and(|t| t > latest_start) || iat.is_some_and(|t| t > latest_start) {
        return Err(JwtError::NotYetValid);
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => expect.audiences.iter().any(|x| x == a),
        Some(Value::Array(list)) => {
            list.iter().filter_map(Value::as_str).any(|a| expect.audiences.iter().any(|x| x == a))
        }
        _ => false,
    };
    if !aud_ok {
        return Err(JwtError::WrongAudience);
    }
    Ok(exp)
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
