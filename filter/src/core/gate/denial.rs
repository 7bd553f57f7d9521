//! Why a request was not let through, and the answer each reason gets (RFC 6750).

use super::metrics::Counter;
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
    /// The counter a denial is reported under.
    pub fn counter(self) -> Counter {
        match self {
            Denial::MissingToken => Counter::DeniedMissingToken,
            Denial::InvalidToken(e) => Counter::DeniedInvalidToken(e),
            Denial::Unavailable => Counter::DeniedUnavailable,
        }
    }

    /// The answer. For gRPC requests Envoy turns a local reply into a trailers-only
    /// response and maps the status (401 to UNAUTHENTICATED, 503 to UNAVAILABLE).
    pub fn response(self, realm: &str) -> LocalResponse {
        match self {
            Denial::MissingToken => LocalResponse::json_error(
                401,
                "unauthenticated",
                "Authentication is required",
                vec![("www-authenticate", format!("Bearer realm=\"{realm}\""))],
            ),
            Denial::InvalidToken(e) => {
                let d = e.description();
                let challenge = format!("Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{d}\"");
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
        let missing = Denial::MissingToken.response("oidc-gate");
        assert_eq!(missing.status, 401);
        assert_eq!(missing.header("www-authenticate"), Some("Bearer realm=\"oidc-gate\""));
        let bad = Denial::InvalidToken(JwtError::Expired).response("api");
        assert_eq!(
            bad.header("www-authenticate"),
            Some("Bearer realm=\"api\", error=\"invalid_token\", error_description=\"The access token expired\"")
        );
        assert_eq!(bad.body, r#"{"error":"invalid_token","error_description":"The access token expired"}"#);
        let down = Denial::Unavailable.response("api");
        assert_eq!(down.status, 503);
        assert_eq!(down.header("retry-after"), Some("5"));
    }
}
