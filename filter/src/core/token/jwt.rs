//! JSON Web Tokens (RFC 7519) signed with JWS (RFC 7515): decoding, signature
//! verification against a [`KeySet`], and the registered-claim checks.
//!
//! The types make the order hard to get wrong: [`decode`] gives an [`Untrusted`] token
//! whose claims cannot be read (only its stated issuer, to choose the keys), and only
//! [`Untrusted::verify`] turns it into a [`Jwt`], whose claims can then be checked.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::time::Duration;

use super::jwk::{KeyMaterial, KeySet, VerifyingKey};
use super::{Alg, AlgSet, JwtError};

/// Tokens longer than this are refused without decoding.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// A token split and decoded, its signature not yet checked: nothing in it is trusted.
pub struct Untrusted<'a> {
    alg: Alg,
    kid: Option<String>,
    typ: Option<String>,
    claims: Map<String, Value>,
    signing_input: &'a [u8],
    signature: Vec<u8>,
}

/// A token whose signature verified with the issuer's key. Only [`Untrusted::verify`]
/// makes one; its registered claims are checked by [`Jwt::check`].
#[derive(Debug)]
pub struct Jwt {
    typ: Option<String>,
    claims: Map<String, Value>,
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
    Ok(Untrusted { alg, kid: header.kid, typ: header.typ, claims, signing_input, signature })
}

impl Untrusted<'_> {
    /// The `iss` claim as the token states it, unverified: only for choosing whose keys
    /// to verify the token with.
    pub fn unverified_issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    /// Checks the signature with the key the token names.
    pub fn verify(self, keys: &KeySet) -> Result<Jwt, JwtError> {
        let key = keys.select(self.kid.as_deref(), self.alg).ok_or(JwtError::UnknownKey)?;
        if verify(key, self.alg, self.signing_input, &self.signature) {
            Ok(Jwt { typ: self.typ, claims: self.claims })
        } else {
            Err(JwtError::BadSignature)
        }
    }
}

fn verify(key: &VerifyingKey, alg: Alg, msg: &[u8], sig: &[u8]) -> bool {
    use super::rsa_pub::{verify_pkcs1v15, verify_pss};
    use p256::ecdsa::signature::Verifier;
    match (&key.material, alg) {
        (KeyMaterial::Rsa(k), Alg::RS256) => verify_pkcs1v15(k, &Sha256::digest(msg), sig),
        (KeyMaterial::Rsa(k), Alg::RS384) => verify_pkcs1v15(k, &Sha384::digest(msg), sig),
        (KeyMaterial::Rsa(k), Alg::RS512) => verify_pkcs1v15(k, &Sha512::digest(msg), sig),
        (KeyMaterial::Rsa(k), Alg::PS256) => verify_pss::<Sha256>(k, msg, sig),
        (KeyMaterial::Rsa(k), Alg::PS384) => verify_pss::<Sha384>(k, msg, sig),
        (KeyMaterial::Rsa(k), Alg::PS512) => verify_pss::<Sha512>(k, msg, sig),
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
    pub now_s: u64,
    pub skew: Duration,
}

/// Reads a NumericDate claim (seconds); `Ok(None)` when absent.
pub fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, JwtError> {
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

impl Jwt {
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    pub fn into_claims(self) -> Map<String, Value> {
        self.claims
    }

    /// The JOSE header's `typ`, as the token states it.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// Whether `aud` (a string or an array) names one of `audiences`.
    pub fn for_audience(&self, audiences: &[String]) -> bool {
        match self.claims.get("aud") {
            Some(Value::String(a)) => audiences.iter().any(|x| x == a),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(|a| audiences.iter().any(|x| x == a)),
            _ => false,
        }
    }

    /// Refuses what is not an access token: an ID token (it carries a login `nonce`, or
    /// `at_hash`/`c_hash`), or a JOSE `typ` other than `JWT` or `at+jwt` (RFC 9068), such
    /// as a logout token's `logout+jwt`.
    pub fn access_token(&self) -> Result<(), JwtError> {
        if ["nonce", "at_hash", "c_hash"].iter().any(|c| self.claims.contains_key(*c)) {
            return Err(JwtError::IdTokenAsBearer);
        }
        match self.typ.as_deref().map(|t| t.strip_prefix("application/").unwrap_or(t)) {
            None => Ok(()),
            Some(t) if t.eq_ignore_ascii_case("JWT") || t.eq_ignore_ascii_case("at+jwt") => Ok(()),
            Some(_) => Err(JwtError::NotAccessToken),
        }
    }

    /// Checks `iss`, `aud`, `exp` (required), `nbf` and `iat`. Returns `exp` in seconds.
    pub fn check(&self, expect: &Expect<'_>) -> Result<u64, JwtError> {
        let claims = &self.claims;
        let exp = numeric_date(claims, "exp")?.ok_or(JwtError::MissingExp)?;
        let nbf = numeric_date(claims, "nbf")?;
        let iat = numeric_date(claims, "iat")?;
        if claims.get("iss").and_then(Value::as_str) != Some(expect.issuer) {
            return Err(JwtError::UnknownIssuer);
        }
        let skew = expect.skew.as_secs();
        if expect.now_s > exp.saturating_add(skew) {
            return Err(JwtError::Expired);
        }
        let latest_start = expect.now_s.saturating_add(skew);
        if nbf.is_some_and(|t| t > latest_start) || iat.is_some_and(|t| t > latest_start) {
            return Err(JwtError::NotYetValid);
        }
        if !self.for_audience(expect.audiences) {
            return Err(JwtError::WrongAudience);
        }
        Ok(exp)
    }
}
