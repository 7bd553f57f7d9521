//! JSON Web Tokens (RFC 7519) signed with JWS (RFC 7515): decoding, signature
//! verification against a [`KeySet`], and the registered-claim checks.
//!
//! The types make the order hard to get wrong: [`decode`] gives an [`Untrusted`] token
//! whose claims cannot be read (only its stated issuer, to choose the keys), and only
//! [`Untrusted::verify`] turns it into a [`Jwt`], whose claims can then be checked.

use chrono::{DateTime, TimeZone, Utc};
use jwt_compact::{AlgorithmExt, Claims, TimeOptions, Token, UntrustedToken, ValidationError};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::time::Duration;

use super::algs::{EdDsa, Es256, Es384, Rsa};
use super::jwk::{KeyMaterial, KeySet, VerifyingKey};
use super::{Alg, AlgSet, JwtError};

/// Tokens longer than this are refused without decoding.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The JOSE header fields beyond jwt-compact's own that the filter reads.
#[derive(Deserialize, Clone, Default)]
struct HeaderFields {
    #[serde(default)]
    crit: Option<Value>,
}

type ClaimMap = Map<String, Value>;

/// A token split and decoded, its signature not yet checked: nothing in it is trusted.
pub struct Untrusted<'a> {
    alg: Alg,
    token: UntrustedToken<'a, HeaderFields>,
    /// Read once without trust, only for [`Untrusted::unverified_issuer`].
    issuer: Option<String>,
}

/// A token whose signature verified with the issuer's key. Only [`Untrusted::verify`]
/// makes one; its registered claims are checked by [`Jwt::check`].
#[derive(Debug)]
pub struct Jwt {
    typ: Option<String>,
    /// Every claim, `exp`, `nbf` and `iat` included.
    claims: ClaimMap,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    /// A registered date before 1970.
    bad_dates: bool,
}

/// Only `iss`, from a token not yet trusted.
#[derive(Deserialize)]
struct IssuerOnly {
    #[serde(default)]
    iss: Option<Value>,
}

/// Splits and decodes a compact JWS. Refuses disallowed algorithms before anything else
/// is read.
pub fn decode(token: &str, allowed: AlgSet) -> Result<Untrusted<'_>, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::Malformed);
    }
    let token: UntrustedToken<'_, HeaderFields> = UntrustedToken::try_from(token).map_err(|_| JwtError::Malformed)?;
    let alg = Alg::parse(token.algorithm())?;
    if !allowed.contains(alg) {
        return Err(JwtError::DisallowedAlg);
    }
    if token.header().other_fields.crit.is_some() {
        return Err(JwtError::UnsupportedCrit);
    }
    let unverified = token.deserialize_claims_unchecked::<IssuerOnly>().map_err(|_| JwtError::Malformed)?;
    let issuer = match unverified.custom.iss {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    Ok(Untrusted { alg, token, issuer })
}

impl Untrusted<'_> {
    /// The `iss` claim as the token states it, unverified: only for choosing whose keys
    /// to verify the token with.
    pub fn unverified_issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// Whether `keys` hold the key this token names (by `kid` and algorithm): without it
    /// [`Untrusted::verify`] fails with [`JwtError::UnknownKey`].
    pub fn has_key(&self, keys: &KeySet) -> bool {
        self.key(keys).is_some()
    }

    fn key<'k>(&self, keys: &'k KeySet) -> Option<&'k VerifyingKey> {
        keys.select(self.token.header().key_id.as_deref(), self.alg)
    }

    /// Checks the signature with the key the token names, through jwt-compact's
    /// validator (the algorithm named by the token must be the key's).
    pub fn verify(self, keys: &KeySet) -> Result<Jwt, JwtError> {
        let key = self.key(keys).ok_or(JwtError::UnknownKey)?;
        let validated = match &key.material {
            KeyMaterial::Rsa(k) => Rsa(self.alg).validator::<ClaimMap>(k).validate(&self.token),
            KeyMaterial::P256(k) => Es256.validator::<ClaimMap>(k).validate(&self.token),
            KeyMaterial::P384(k) => Es384.validator::<ClaimMap>(k).validate(&self.token),
            KeyMaterial::Ed25519(k) => EdDsa.validator::<ClaimMap>(k).validate(&self.token),
        };
        let token: Token<ClaimMap, HeaderFields> = validated.map_err(|e| match e {
            ValidationError::MalformedClaims(_) => JwtError::Malformed,
            _ => JwtError::BadSignature,
        })?;
        let (header, claims) = token.into_parts();
        Ok(Jwt::new(header.token_type, claims))
    }
}

/// Seconds of a NumericDate; before 1970 is malformed.
fn seconds(t: Option<DateTime<Utc>>) -> Result<Option<i64>, JwtError> {
    match t.map(|t| t.timestamp()) {
        Some(s) if s < 0 => Err(JwtError::Malformed),
        other => Ok(other),
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
    /// The claims of a verified token; the registered dates go back into the map (as
    /// whole seconds) so that it holds every claim, as the token did.
    fn new(typ: Option<String>, claims: Claims<ClaimMap>) -> Jwt {
        let dates = (seconds(claims.expiration), seconds(claims.not_before), seconds(claims.issued_at));
        let mut map = claims.custom;
        let (exp, nbf, iat, bad_dates) = match dates {
            (Ok(exp), Ok(nbf), Ok(iat)) => (exp, nbf, iat, false),
            _ => (None, None, None, true),
        };
        for (name, value) in [("exp", exp), ("nbf", nbf), ("iat", iat)] {
            if let Some(v) = value {
                map.insert(name.to_string(), Value::from(v));
            }
        }
        Jwt { typ, claims: map, exp, nbf, iat, bad_dates }
    }

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
    /// The time checks are jwt-compact's (`exp` and `nbf` with the skew as leeway).
    pub fn check(&self, expect: &Expect<'_>) -> Result<u64, JwtError> {
        if self.bad_dates {
            return Err(JwtError::Malformed);
        }
        let (exp, nbf, iat) = (self.exp.ok_or(JwtError::MissingExp)?, self.nbf, self.iat);
        if self.claims.get("iss").and_then(Value::as_str) != Some(expect.issuer) {
            return Err(JwtError::UnknownIssuer);
        }
        let now = i64::try_from(expect.now_s).unwrap_or(i64::MAX);
        let skew = i64::try_from(expect.skew.as_secs()).unwrap_or(i64::MAX);
        let time = |s: Option<i64>| s.and_then(|s| Utc.timestamp_opt(s, 0).single());
        let mut dates: Claims<()> = Claims::new(());
        (dates.expiration, dates.not_before) = (time(Some(exp)), time(nbf));
        let options =
            TimeOptions::new(chrono::Duration::seconds(skew), || time(Some(now)).unwrap_or(DateTime::<Utc>::MAX_UTC));
        dates.validate_expiration(&options).map_err(|_| JwtError::Expired)?;
        if dates.not_before.is_some() {
            dates.validate_maturity(&options).map_err(|_| JwtError::NotYetValid)?;
        }
        if iat.is_some_and(|t| t > now.saturating_add(skew)) {
            return Err(JwtError::NotYetValid);
        }
        if !self.for_audience(expect.audiences) {
            return Err(JwtError::WrongAudience);
        }
        Ok(u64::try_from(exp).unwrap_or(0))
    }
}
