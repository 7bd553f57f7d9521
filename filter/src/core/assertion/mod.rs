//! The signed identity assertion (`assertion`): every allowed request with an identity
//! carries a short-lived ES256 JWT signed by the gate, so that an app can check who the
//! caller is even when someone reaches it around the proxy. The public keys are served
//! as a JWKS at [`JWKS_PATH`]. Each worker signs once per identity and reuses the
//! assertion until a quarter of its lifetime is left ([`cache::Assertions`]).

pub mod cache;

use serde_json::{Map, Value};
use std::time::Duration;

use crate::core::config::defaults;
use crate::core::config::duration;
use crate::core::config::errors::Errors;
use crate::core::config::raw::RawAssertion;
use crate::core::config::secret::Env;
use crate::core::identity::{check_header_name, lookup};
use crate::core::rand::Random;
use crate::core::signing::{self, SignError, SigningKey};
use crate::core::web::{AbsoluteUrl, LocalResponse};

pub use cache::Assertions;

/// Where the assertion's public keys are served, to anyone.
pub const JWKS_PATH: &str = "/.well-known/oidc-gate/jwks.json";

/// `assertion`, compiled.
#[derive(Debug)]
pub struct AssertionConfig {
    pub header: String,
    /// The first signs; every one is published.
    keys: Vec<SigningKey>,
    pub audience: String,
    pub lifetime: Duration,
    /// A fixed `iss` (`assertion.issuer`, else the origin of `redirect_uri`); `None`: the
    /// request's own origin.
    pub issuer: Option<String>,
    /// The claim the groups come from (`groups_header.claim`, default `groups`).
    groups_claim: String,
    jwks: String,
}

/// Who an assertion is about, beyond the identity's claims.
pub struct Subject<'a> {
    /// `iss`: the gate's origin.
    pub issuer: &'a str,
    /// `idp`: the issuer that vouched for the caller (a token's `iss`, the login issuer).
    pub idp: Option<&'a str>,
}

impl AssertionConfig {
    pub fn compile(
        raw: &RawAssertion,
        groups_claim: &str,
        env: &dyn Env,
        errors: &mut Errors,
    ) -> Option<AssertionConfig> {
        let header = raw.header.clone().unwrap_or_else(|| defaults::ASSERTION_HEADER.to_string());
        if let Err(e) = check_header_name(&header) {
            errors.push("assertion.header", e);
        }
        let keys = keys(raw, env, errors);
        let audience = raw.audience.clone().unwrap_or_default();
        if audience.is_empty() {
            errors.push("assertion.audience", "required: the audience the app checks (its name or URL)");
        }
        let lifetime = errors.duration("assertion.lifetime", &raw.lifetime, defaults::ASSERTION_LIFETIME);
        if !(defaults::MIN_ASSERTION_LIFETIME..=defaults::MAX_ASSERTION_LIFETIME).contains(&lifetime) {
            let (min, max) = (defaults::MIN_ASSERTION_LIFETIME, defaults::MAX_ASSERTION_LIFETIME);
            errors.push(
                "assertion.lifetime",
                format!("must be between {} and {}", duration::format(min), duration::format(max)),
            );
        }
        let issuer = raw.issuer.as_ref().map(|i| {
            if !AbsoluteUrl::parse(i).is_ok_and(|u| !u.path_and_query.contains('?')) {
                errors.push("assertion.issuer", "must be an absolute http(s) URL without query");
            }
            i.trim_end_matches('/').to_string()
        });
        let jwks = signing::jwks(&keys);
        let groups_claim = groups_claim.to_string();
        Some(AssertionConfig { header, keys, audience, lifetime, issuer, groups_claim, jwks })
    }

    /// The JWKS document, cacheable for five minutes (rotation: publish a new key second in
    /// the list, and move it first once apps have fetched it).
    pub fn jwks_response(&self) -> LocalResponse {
        let mut response = LocalResponse::json(200, self.jwks.clone());
        for (name, value) in response.headers.iter_mut() {
            if *name == "cache-control" {
                *value = "public, max-age=300".to_string();
            }
        }
        response
    }

    /// The claims text of an assertion about `claims` (which must hold `sub`), issued at `now_s`.
    pub fn claims(&self, claims: &Map<String, Value>, subject: &Subject<'_>, now_s: u64) -> Option<String> {
        let sub = claims.get("sub").and_then(Value::as_str)?;
        let mut out = Map::new();
        out.insert("iss".into(), subject.issuer.into());
        out.insert("aud".into(), self.audience.as_str().into());
        out.insert("sub".into(), sub.into());
        if let Some(email) = claims.get("email").and_then(Value::as_str) {
            out.insert("email".into(), email.into());
        }
        let groups: Option<Vec<Value>> = match lookup(claims, &self.groups_claim) {
            Some(Value::Array(list)) => Some(list.iter().filter(|g| g.is_string()).cloned().collect()),
            Some(Value::String(one)) => Some(vec![Value::String(one.clone())]),
            _ => None,
        };
        if let Some(groups) = groups {
            out.insert("groups".into(), Value::Array(groups));
        }
        if let Some(idp) = subject.idp {
            out.insert("idp".into(), idp.into());
        }
        out.insert("iat".into(), now_s.into());
        out.insert("exp".into(), now_s.saturating_add(self.lifetime.as_secs()).into());
        Some(Value::Object(out).to_string())
    }

    /// Signs an assertion with the first key.
    pub fn sign(&self, claims: &str, rng: &mut dyn Random) -> Result<String, SignError> {
        self.keys.first().ok_or(SignError)?.sign(claims, rng)
    }

    /// From when (seconds) an assertion issued at `iat` is signed anew: a quarter of its
    /// lifetime before it expires, so an app never receives one about to lapse.
    pub fn renew_at(&self, iat: u64) -> u64 {
        iat.saturating_add(self.lifetime.as_secs() * 3 / 4)
    }
}

/// `signing_key` or `signing_keys`: P-256 keys, one at least, the first signing.
fn keys(raw: &RawAssertion, env: &dyn Env, errors: &mut Errors) -> Vec<SigningKey> {
    let sources: Vec<(String, &_)> = match (&raw.signing_key, &raw.signing_keys) {
        (Some(_), Some(_)) => {
            errors.push("assertion.signing_keys", "set signing_key or signing_keys, not both");
            return Vec::new();
        }
        (Some(one), None) => vec![("assertion.signing_key".to_string(), one)],
        (None, Some(list)) => {
            list.iter().enumerate().map(|(n, s)| (format!("assertion.signing_keys[{n}]"), s)).collect()
        }
        (None, None) => Vec::new(),
    };
    if sources.is_empty() {
        errors.push("assertion.signing_key", "required: a P-256 private key (PKCS#8 PEM or JWK), or signing_keys");
    }
    let mut keys: Vec<SigningKey> = Vec::new();
    for (field, source) in sources {
        let Some(secret) = errors.secret(&field, source, env) else { continue };
        match SigningKey::parse(secret.expose(), false) {
            Ok(k) if keys.iter().any(|x| x.kid == k.kid) => errors.push(field, "has the kid of another key"),
            Ok(k) => keys.push(k),
            Err(e) => errors.push(field, e),
        }
    }
    keys
}

#[cfg(test)]
mod tests;
