//! Token introspection (RFC 7662): an opaque bearer token is asked about at the IdP's
//! `introspection_endpoint`, authenticated as the client; the answer's claims feed the
//! identity like a verified JWT's.

use serde_json::{Map, Value};
use std::time::Duration;

use super::client::Signer;
use super::token_endpoint::TokenRequest;
use super::Callout;
use crate::core::signing::SignError;
use crate::core::token::JwtError;

/// `bearer.introspection`.
#[derive(Debug, Clone)]
pub struct IntrospectionConfig {
    /// An active token's answer is used until the earlier of its `exp` and this.
    pub cache_ttl: Duration,
    /// An inactive token's answer is remembered this long.
    pub inactive_ttl: Duration,
}

/// What is checked in an answer.
pub struct Expect<'a> {
    pub issuer: &'a str,
    pub audiences: &'a [String],
    /// Without `aud`, the answer's `client_id` must be one of these.
    pub client_ids: &'a [String],
    pub now_s: u64,
    pub skew: Duration,
}

/// Why an introspection gave no identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntrospectionError {
    /// No answer, or an HTTP error: the IdP cannot say now.
    Unavailable,
    /// The IdP says the token is not active (or its answer is not one).
    Refused(JwtError),
}

/// The request for `token` at the introspection endpoint, authenticated as the client;
/// a `private_key_jwt` assertion names `audience` (the token endpoint).
pub fn request(at: &TokenRequest<'_>, token: &str, audience: &str, signer: Signer<'_>) -> Result<Callout, SignError> {
    at.post(vec![("token", token), ("token_type_hint", "access_token")], audience, signer)
}

/// An active token's claims and expiry (seconds, when the answer has one).
pub fn parse(
    status: Option<u16>,
    body: &[u8],
    expect: &Expect<'_>,
) -> Result<(Map<String, Value>, Option<u64>), IntrospectionError> {
    let refused = IntrospectionError::Refused;
    let error = || serde_json::from_slice::<Value>(body).ok()?.get("error")?.as_str().map(str::to_string);
    if status == Some(400) && error().as_deref() == Some("unsupported_token_type") {
        // The IdP cannot introspect this kind of token (oidc-provider and others refuse
        // JWTs): it vouches for nothing, a definite answer rather than an outage.
        return Err(refused(JwtError::Inactive));
    }
    if status != Some(200) {
        return Err(IntrospectionError::Unavailable);
    }
    let mut claims: Map<String, Value> = serde_json::from_slice(body).map_err(|_| IntrospectionError::Unavailable)?;
    if claims.remove("active") != Some(Value::Bool(true)) {
        return Err(refused(JwtError::Inactive));
    }
    let date = |name: &str| claims.get(name).map(|v| v.as_u64().ok_or(refused(JwtError::Malformed))).transpose();
    let (exp, nbf) = (date("exp")?, date("nbf")?);
    let skew = expect.skew.as_secs();
    if exp.is_some_and(|e| expect.now_s > e.saturating_add(skew)) {
        return Err(refused(JwtError::Expired));
    }
    if nbf.is_some_and(|t| t > expect.now_s.saturating_add(skew)) {
        return Err(refused(JwtError::NotYetValid));
    }
    if claims.get("iss").is_some_and(|i| i.as_str() != Some(expect.issuer)) {
        return Err(refused(JwtError::UnknownIssuer));
    }
    let audience_ok = match claims.get("aud") {
        // No audience: the token must be one of the clients this API accepts, so that a
        // token issued to any other client of the IdP is no credential here.
        None => {
            claims.get("client_id").and_then(Value::as_str).is_some_and(|c| expect.client_ids.iter().any(|x| x == c))
        }
        Some(Value::String(a)) => expect.audiences.contains(a),
        Some(Value::Array(list)) => {
            list.iter().filter_map(Value::as_str).any(|a| expect.audiences.iter().any(|x| x == a))
        }
        Some(_) => false,
    };
    if !audience_ok {
        return Err(refused(JwtError::WrongAudience));
    }
    // RFC 7662 token_type: a refresh token (or anything but an access token) is no credential.
    let token_type = claims.get("token_type").and_then(Value::as_str);
    if token_type.is_some_and(|t| !t.eq_ignore_ascii_case("bearer") && !t.eq_ignore_ascii_case("access_token")) {
        return Err(refused(JwtError::NotAccessToken));
    }
    Ok((claims, exp))
}

/// Whether a bearer token has a shape worth asking the IdP about: RFC 6750 `b64token`
/// characters, at most `max` bytes. Anything else is refused without a call.
pub fn plausible(token: &str, max: usize) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty() && token.len() <= max && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(answer: Value) -> Result<(Map<String, Value>, Option<u64>), IntrospectionError> {
        let audiences = vec!["api".to_string()];
        let clients = vec!["cli".to_string()];
        let expect = Expect {
            issuer: "https://idp",
            audiences: &audiences,
            client_ids: &clients,
            now_s: 1000,
            skew: Duration::from_secs(60),
        };
        parse(Some(200), answer.to_string().as_bytes(), &expect)
    }

    #[test]
    fn an_active_answer_gives_claims_and_expiry() {
        let (claims, exp) = check(json!({"active": true, "sub": "u", "scope": "api", "exp": 2000, "client_id": "cli",
            "iss": "https://idp", "token_type": "Bearer"}))
        .unwrap();
        assert_eq!((claims.get("sub"), exp), (Some(&json!("u")), Some(2000)));
        assert!(!claims.contains_key("active"));
        assert!(check(json!({"active": true, "client_id": "cli"})).is_ok(), "issuer checked only when present");
    }

    #[test]
    fn anything_else_is_refused() {
        let refused = |e| Err(IntrospectionError::Refused(e));
        assert_eq!(check(json!({"active": false})), refused(JwtError::Inactive));
        assert_eq!(check(json!({"active": true})), refused(JwtError::WrongAudience), "no aud and no accepted client");
        assert_eq!(check(json!({"active": true, "client_id": "other-app"})), refused(JwtError::WrongAudience));
        assert_eq!(check(json!({"active": "true"})), refused(JwtError::Inactive));
        assert_eq!(check(json!({})), refused(JwtError::Inactive));
        assert_eq!(check(json!({"active": true, "exp": 900})), refused(JwtError::Expired));
        assert_eq!(check(json!({"active": true, "nbf": 1100})), refused(JwtError::NotYetValid));
        assert_eq!(check(json!({"active": true, "iss": "https://evil"})), refused(JwtError::UnknownIssuer));
        assert_eq!(check(json!({"active": true, "aud": "other"})), refused(JwtError::WrongAudience));
        assert!(check(json!({"active": true, "aud": ["other", "api"]})).is_ok());
        assert_eq!(
            check(json!({"active": true, "client_id": "cli", "token_type": "refresh_token"})),
            refused(JwtError::NotAccessToken)
        );
        assert_eq!(check(json!({"active": true, "exp": "soon"})), refused(JwtError::Malformed));
        let expect = Expect { issuer: "i", audiences: &[], client_ids: &[], now_s: 0, skew: Duration::ZERO };
        assert_eq!(parse(Some(500), b"{}", &expect), Err(IntrospectionError::Unavailable));
        // oidc-provider on a JWT: "Structured JWT Tokens cannot be introspected".
        let jwt_refused = br#"{"error":"unsupported_token_type","error_description":"Structured JWT Tokens cannot be introspected via the introspection_endpoint"}"#;
        assert_eq!(parse(Some(400), jwt_refused, &expect), Err(IntrospectionError::Refused(JwtError::Inactive)));
        assert_eq!(parse(Some(400), br#"{"error":"invalid_request"}"#, &expect), Err(IntrospectionError::Unavailable));
        assert_eq!(
            parse(Some(401), br#"{"error":"unsupported_token_type"}"#, &expect),
            Err(IntrospectionError::Unavailable)
        );
        assert_eq!(parse(None, b"", &expect), Err(IntrospectionError::Unavailable));
        assert_eq!(parse(Some(200), b"<html>", &expect), Err(IntrospectionError::Unavailable));
    }

    #[test]
    fn only_plausible_tokens_are_asked_about() {
        assert!(plausible("jn_sdx-Abc.123~+/==", 4096));
        for bad in ["", "==", "a b", "a\"b", "é", "a,b"] {
            assert!(!plausible(bad, 4096), "{bad:?}");
        }
        assert!(!plausible(&"a".repeat(4097), 4096));
    }
}
