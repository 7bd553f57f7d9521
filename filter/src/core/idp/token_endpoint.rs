//! The token endpoint (RFC 6749 sections 4.1.3 and 5): the requests the filter makes
//! there, and what its answers mean.

use serde::Deserialize;
use serde_json::Value;

use super::client::Signer;
use super::{error_code, Callout, Client, Clusters};
use crate::core::signing::SignError;
use crate::core::web::{form, AbsoluteUrl};

/// A successful token response. `Debug` shows no token.
#[derive(Deserialize, Default, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TokenResponse {{ id_token: {}, access_token: {}, refresh_token: {}, expires_in: {:?} }}",
            self.id_token.is_some(),
            self.access_token.is_some(),
            self.refresh_token.is_some(),
            self.expires_in
        )
    }
}

/// Why a token request gave no tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenEndpointError {
    /// No answer: unreachable, timed out, or the cluster is unknown.
    Unreachable,
    /// An HTTP error, with the OAuth `error` code when the body has one (sanitized).
    Refused { status: u16, error: Option<String> },
    /// A 200 whose body is not a JSON token response.
    NotJson,
}

/// A request to an endpoint where the client authenticates (token, introspection) at
/// `url`.
pub struct TokenRequest<'a> {
    pub client: &'a Client,
    pub url: &'a AbsoluteUrl,
    pub clusters: &'a Clusters,
}

impl TokenRequest<'_> {
    /// A form POST of `fields` plus the client's credentials; `audience` is what a
    /// `private_key_jwt` assertion names (the token endpoint).
    pub fn post(
        &self,
        fields: Vec<(&'static str, &str)>,
        audience: &str,
        signer: Signer<'_>,
    ) -> Result<Callout, SignError> {
        let assertion = self.client.assertion(audience, signer)?;
        // The fields, for as long as the assertion lives.
        let mut fields: Vec<(&'static str, &str)> = fields;
        let mut headers = Vec::new();
        self.client.authenticate(assertion.as_deref(), &mut fields, &mut headers);
        Ok(Callout::post_form(self.clusters.target(self.url), headers, form::serialize(&fields)))
    }

    /// The authorization-code exchange, with the PKCE verifier.
    pub fn code_exchange(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
        signer: Signer<'_>,
    ) -> Result<Callout, SignError> {
        let fields = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        self.post(fields, &self.url.as_string(), signer)
    }

    /// The refresh grant (RFC 6749 section 6).
    pub fn refresh(&self, refresh_token: &str, signer: Signer<'_>) -> Result<Callout, SignError> {
        let fields = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
        self.post(fields, &self.url.as_string(), signer)
    }
}

impl TokenResponse {
    /// When the access token expires (seconds): from `expires_in`, else from the `exp` of
    /// a JWT access token (read, not verified: it came over the back channel and is used
    /// only to time its renewal).
    pub fn access_exp(&self, now_s: u64) -> Option<u64> {
        if let Some(secs) = self.expires_in {
            return Some(now_s.saturating_add(secs));
        }
        let payload = self.access_token.as_deref()?.split('.').nth(1)?;
        let claims: Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).ok()?,
        )
        .ok()?;
        claims.get("exp")?.as_u64()
    }
}

/// Reads a token endpoint's answer; `status` is `None` when there was no answer.
pub fn parse(status: Option<u16>, body: &[u8]) -> Result<TokenResponse, TokenEndpointError> {
    match status {
        None => Err(TokenEndpointError::Unreachable),
        Some(200) => {
            let value: Value = serde_json::from_slice(body).map_err(|_| TokenEndpointError::NotJson)?;
            // GitHub answers errors with a 200 and an `error` field: no token then.
            if let (Some(error), None) = (value.get("error"), value.get("access_token")) {
                let error = error.as_str().map(error_code);
                return Err(TokenEndpointError::Refused { status: 200, error });
            }
            serde_json::from_value(value).map_err(|_| TokenEndpointError::NotJson)
        }
        Some(status) => {
            let error = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(error_code));
            Err(TokenEndpointError::Refused { status, error })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_mean_what_rfc_6749_says() {
        let ok = parse(Some(200), br#"{"access_token":"a","id_token":"i","token_type":"Bearer","expires_in":60}"#);
        assert_eq!(ok.as_ref().map(|t| t.expires_in), Ok(Some(60)));
        assert!(!format!("{ok:?}").contains("\"a\""), "Debug shows no token");
        assert_eq!(
            parse(Some(400), br#"{"error":"invalid_grant<script>"}"#),
            Err(TokenEndpointError::Refused { status: 400, error: Some("invalid_grantscript".into()) })
        );
        assert_eq!(parse(Some(502), b"<html>"), Err(TokenEndpointError::Refused { status: 502, error: None }));
        assert_eq!(parse(Some(200), b"<html>"), Err(TokenEndpointError::NotJson));
        assert_eq!(
            parse(Some(200), br#"{"error":"bad_verification_code","error_description":"The code is incorrect"}"#),
            Err(TokenEndpointError::Refused { status: 200, error: Some("bad_verification_code".into()) }),
            "GitHub's errors come as a 200"
        );
        assert_eq!(parse(None, b""), Err(TokenEndpointError::Unreachable));
    }

    #[test]
    fn the_access_token_expiry_comes_from_expires_in_or_the_tokens_own_exp() {
        let with = |v: Value| serde_json::from_value::<TokenResponse>(v).unwrap();
        assert_eq!(with(serde_json::json!({"access_token": "opaque", "expires_in": 300})).access_exp(1000), Some(1300));
        let jwt = format!(
            "e30.{}.sig",
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, br#"{"exp":4242}"#)
        );
        assert_eq!(with(serde_json::json!({"access_token": jwt})).access_exp(1000), Some(4242));
        assert_eq!(with(serde_json::json!({"access_token": "opaque"})).access_exp(1000), None);
    }
}
