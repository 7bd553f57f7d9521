//! Why a request was not let through, and the answer each reason gets (RFC 6750).

use super::metrics::Counter;
use crate::core::config::Config;
use crate::core::token::JwtError;
use crate::core::web::LocalResponse;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// No credentials at all (RFC 6750 section 3.1: no error code).
    MissingToken,
    InvalidToken(JwtError),
    /// Keys never loaded: the IdP is unreachable or lying.
    Unavailable,
}

impl Denial {
    /// The answer under this configuration (its realm and resource metadata).
    pub fn response_for(self, config: &Config) -> LocalResponse {
        self.response(&config.realm, config.resource_metadata.as_ref().map(|m| m.url.as_str()))
    }

    /// The counter a denial is reported under.
    pub fn counter(self) -> Counter {
        match self {
            Denial::MissingToken => Counter::DeniedMissingToken,
            Denial::InvalidToken(e) => Counter::DeniedInvalidToken(e),
            Denial::Unavailable => Counter::DeniedUnavailable,
        }
    }

    /// The answer. For gRPC requests Envoy turns a local reply into a trailers-only
    /// response and maps the status (401 to UNAUTHENTICATED, 503 to UNAVAILABLE). Every 401
    /// names the protected-resource metadata (RFC 9728) when there is some.
    pub fn response(self, realm: &str, resource_metadata: Option<&str>) -> LocalResponse {
        let metadata = resource_metadata.map(|m| format!(", resource_metadata=\"{m}\"")).unwrap_or_default();
        match self {
            Denial::MissingToken => LocalResponse::json_error(
                401,
                "unauthenticated",
                "Authentication is required",
                vec![("www-authenticate", format!("Bearer realm=\"{realm}\"{metadata}"))],
            ),
            Denial::InvalidToken(e) => {
                let d = e.description();
                let challenge =
                    format!("Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{d}\"{metadata}");
                LocalResponse::json_error(401, "invalid_token", d, vec![("www-authenticate", challenge)])
            }
            Denial::Unavailable => LocalResponse::json_error(
                503,
                "temporarily_unavailable",
                "The identity provider is not reachable; try again shortly",
                vec![("retry-after", "5".to_string())],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_rfc_6750() {
        let missing = Denial::MissingToken.response("oidc-gate", None);
        assert_eq!(missing.status, 401);
        assert_eq!(missing.header("www-authenticate"), Some("Bearer realm=\"oidc-gate\""));
        let bad = Denial::InvalidToken(JwtError::Expired).response("api", None);
        assert_eq!(
            bad.header("www-authenticate"),
            Some("Bearer realm=\"api\", error=\"invalid_token\", error_description=\"The access token expired\"")
        );
        assert_eq!(bad.body, r#"{"error":"invalid_token","error_description":"The access token expired"}"#);
        let down = Denial::Unavailable.response("api", None);
        assert_eq!(down.status, 503);
        assert_eq!(down.header("retry-after"), Some("5"));
        let m = "https://api.example.com/.well-known/oauth-protected-resource";
        assert_eq!(
            Denial::MissingToken.response("r", Some(m)).header("www-authenticate"),
            Some("Bearer realm=\"r\", resource_metadata=\"https://api.example.com/.well-known/oauth-protected-resource\"")
        );
        assert!(Denial::InvalidToken(JwtError::Expired)
            .response("r", Some(m))
            .header("www-authenticate")
            .is_some_and(|v| v.ends_with(&format!("resource_metadata=\"{m}\""))));
    }
}
