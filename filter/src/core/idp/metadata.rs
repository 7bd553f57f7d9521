//! What the discovery document tells us (OpenID Connect Discovery 1.0).

use serde::Deserialize;

use super::provider::FetchError;
use crate::core::web::AbsoluteUrl;

/// What the discovery document tells us (OpenID Connect Discovery 1.0).
#[derive(Debug, Clone)]
pub struct Metadata {
    pub jwks_uri: AbsoluteUrl,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub end_session_endpoint: Option<String>,
    pub introspection_endpoint: Option<String>,
    /// RFC 9207: the IdP puts `iss` on authorization responses.
    pub iss_parameter_supported: bool,
}

#[derive(Deserialize)]
struct RawDiscovery {
    issuer: String,
    jwks_uri: String,
    #[serde(default)]
    authorization_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint: Option<String>,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    end_session_endpoint: Option<String>,
    #[serde(default)]
    introspection_endpoint: Option<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

impl Metadata {
    /// Parses a discovery document, which must name `issuer` exactly (OpenID Connect
    /// Discovery section 4.3).
    pub fn parse(body: &[u8], issuer: &str) -> Result<Metadata, FetchError> {
        let raw: RawDiscovery = serde_json::from_slice(body).map_err(|_| FetchError::NotJson)?;
        if raw.issuer != issuer {
            return Err(FetchError::IssuerMismatch(raw.issuer));
        }
        let jwks_uri = AbsoluteUrl::parse_config(&raw.jwks_uri).map_err(|_| FetchError::BadJwksUri)?;
        // Endpoints end up in Location headers and callouts: only plain absolute URLs.
        let url = |u: Option<String>| u.filter(|u| AbsoluteUrl::parse_config(u).is_ok());
        Ok(Metadata {
            jwks_uri,
            authorization_endpoint: url(raw.authorization_endpoint),
            token_endpoint: url(raw.token_endpoint),
            userinfo_endpoint: url(raw.userinfo_endpoint),
            end_session_endpoint: url(raw.end_session_endpoint),
            introspection_endpoint: url(raw.introspection_endpoint),
            iss_parameter_supported: raw.authorization_response_iss_parameter_supported,
        })
    }
}
