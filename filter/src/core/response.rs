//! Local responses: the one place where a denial becomes an HTTP answer.

use super::jwt::JwtError;
use super::metrics::Counter;

/// Why a request was not let through.
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    pub status: u32,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

fn json_body(error: &str, description: &str) -> String {
    serde_json::json!({"error": error, "error_description": description}).to_string()
}

/// The answer for a denial. For gRPC requests Envoy turns the local reply into a
/// trailers-only response and maps the status (401 to UNAUTHENTICATED, 503 to UNAVAILABLE).
pub fn deny(denial: Denial, realm: &str) -> LocalResponse {
    let mut headers = vec![("content-type", "application/json".to_string()), ("cache-control", "no-store".to_string())];
    match denial {
        Denial::MissingToken => {
            headers.push(("www-authenticate", format!("Bearer realm=\"{realm}\"")));
            LocalResponse { status: 401, headers, body: json_body("unauthenticated", "Authentication is required") }
        }
        Denial::InvalidToken(e) => {
            let d = e.description();
            headers.push((
                "www-authenticate",
                format!("Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{d}\""),
            ));
            LocalResponse { status: 401, headers, body: json_body("invalid_token", d) }
        }
        Denial::Unavailable => {
            headers.push(("retry-after", "5".to_string()));
            LocalResponse {
                status: 503,
                headers,
                body: json_body("temporarily_unavailable", "The identity provider is not reachable; try again shortly"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(r: &'a LocalResponse, name: &str) -> &'a str {
        r.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()).unwrap()
    }

    #[test]
    fn follows_rfc_6750() {
        let missing = deny(Denial::MissingToken, "oidc-gate");
        assert_eq!(missing.status, 401);
        assert_eq!(header(&missing, "www-authenticate"), "Bearer realm=\"oidc-gate\"");
        let bad = deny(Denial::InvalidToken(JwtError::Expired), "api");
        assert_eq!(
            header(&bad, "www-authenticate"),
            "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"The access token expired\""
        );
        assert_eq!(bad.body, r#"{"error":"invalid_token","error_description":"The access token expired"}"#);
        let down = deny(Denial::Unavailable, "api");
        assert_eq!(down.status, 503);
        assert_eq!(header(&down, "retry-after"), "5");
    }
}
