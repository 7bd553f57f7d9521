//! Why a login failed: logged by reason (never with a token, code or cookie), shown to
//! the person as a [`Page`].

use std::fmt;

use crate::core::idp::token_endpoint::TokenEndpointError;
use crate::core::token::JwtError;
use crate::core::web::pages::Page;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// The callback query does not parse, or repeats a parameter.
    MalformedQuery,
    NoState,
    /// No flow cookie in this browser matches the `state`.
    NoFlow,
    FlowExpired,
    /// The IdP answered the authorization request with `error=` (the code, sanitized).
    IdpRefused(String),
    /// The IdP's discovery document is not loaded.
    NoMetadata,
    /// Discovery has no usable authorization, token or userinfo endpoint.
    NoEndpoint,
    /// The IdP's keys are not loaded.
    NoKeys,
    /// The `private_key_jwt` client assertion could not be signed.
    ClientAssertion,
    /// RFC 9207: the callback's `iss` names another issuer.
    IssMismatch,
    /// RFC 9207: the IdP sends `iss` but this callback has none.
    IssMissing,
    NoCode,
    TokenEndpoint {
        status: Option<u16>,
        error: Option<String>,
    },
    BadTokenResponse,
    IdToken(JwtError),
    NonceMismatch,
    AzpMismatch,
    MissingSub,
    Userinfo {
        status: Option<u16>,
    },
    UserinfoSubMismatch,
    /// Microsoft Graph did not give the groups of an overage (`None` status: malformed).
    Graph {
        status: Option<u16>,
        malformed: bool,
    },
    /// A refresh returned an ID token for another `sub`.
    RefreshedSubMismatch,
    SessionTooLarge,
    /// GitHub's API did not answer a read (`what`: `user`, `user/emails`, ...) with the
    /// JSON it documents.
    Github {
        what: &'static str,
        status: Option<u16>,
    },
    /// The person may not pass the global requirements (`authorization`).
    NotAllowed(String),
    /// A step-up login whose new ID token still lacks the `acr` or recent `auth_time`
    /// the route requires (the IdP could not, or would not, meet it).
    StepUpNotMet,
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginError::MalformedQuery => f.write_str("callback query is malformed"),
            LoginError::NoState => f.write_str("callback without a valid state"),
            LoginError::NoFlow => f.write_str("state matches no login flow cookie"),
            LoginError::FlowExpired => f.write_str("login flow expired"),
            LoginError::IdpRefused(code) => write!(f, "IdP returned an error: {code}"),
            LoginError::NoMetadata => f.write_str("no discovery metadata"),
            LoginError::NoEndpoint => f.write_str("discovery has no usable authorization, token or userinfo endpoint"),
            LoginError::NoKeys => f.write_str("no IdP keys yet"),
            LoginError::ClientAssertion => f.write_str("the client assertion (private_key_jwt) could not be signed"),
            LoginError::IssMismatch => f.write_str("callback iss names another issuer (RFC 9207)"),
            LoginError::IssMissing => f.write_str("callback lacks iss though the IdP sends it (RFC 9207)"),
            LoginError::NoCode => f.write_str("callback without a code"),
            LoginError::TokenEndpoint { status, error } => {
                write!(f, "token endpoint answered {status:?} {}", error.as_deref().unwrap_or(""))
            }
            LoginError::BadTokenResponse => f.write_str("token response is not JSON with an id_token"),
            LoginError::IdToken(e) => write!(f, "ID token refused: {e}"),
            LoginError::NonceMismatch => f.write_str("ID token nonce does not match the login"),
            LoginError::AzpMismatch => f.write_str("ID token azp is not this client"),
            LoginError::MissingSub => f.write_str("ID token has no sub"),
            LoginError::Userinfo { status } => write!(f, "userinfo answered {status:?}"),
            LoginError::UserinfoSubMismatch => f.write_str("userinfo sub differs from the ID token's"),
            LoginError::Graph { malformed: true, .. } => {
                f.write_str("Microsoft Graph getMemberObjects answer is not the documented JSON")
            }
            LoginError::Graph { status, .. } => {
                write!(f, "Microsoft Graph getMemberObjects answered {status:?} (groups overage not resolved)")
            }
            LoginError::RefreshedSubMismatch => f.write_str("refreshed ID token names another sub"),
            LoginError::SessionTooLarge => f.write_str("session too large for the cookie chunks"),
            LoginError::Github { what, status } => write!(f, "GitHub API /{what} answered {status:?}"),
            LoginError::NotAllowed(reason) => write!(f, "not allowed: {reason}"),
            LoginError::StepUpNotMet => {
                f.write_str("the new ID token lacks the acr or recent auth_time the route requires (step-up)")
            }
        }
    }
}

/// A code exchange that gave no tokens, as the login's error.
impl From<TokenEndpointError> for LoginError {
    fn from(e: TokenEndpointError) -> Self {
        match e {
            TokenEndpointError::Unreachable => LoginError::TokenEndpoint { status: None, error: None },
            TokenEndpointError::Refused { status, error } => LoginError::TokenEndpoint { status: Some(status), error },
            TokenEndpointError::NotJson => LoginError::BadTokenResponse,
        }
    }
}

impl LoginError {
    /// The page the person sees, and a short detail for it (the IdP's error code).
    pub fn page(&self) -> (Page, Option<&str>) {
        match self {
            LoginError::MalformedQuery | LoginError::NoState | LoginError::NoFlow | LoginError::FlowExpired => {
                (Page::InvalidState, None)
            }
            LoginError::IdpRefused(code) => (Page::IdpError, Some(code)),
            LoginError::NoKeys
            | LoginError::NoMetadata
            | LoginError::TokenEndpoint { status: None, .. }
            | LoginError::Userinfo { status: None }
            | LoginError::Graph { status: None, malformed: false }
            | LoginError::Github { status: None, .. } => (Page::IdpUnreachable, None),
            // Envoy answers a callout it could not connect or that timed out with 503 or 504
            // itself; a gateway in front of the IdP does the same (502 too).
            LoginError::TokenEndpoint { status: Some(502..=504), error: None }
            | LoginError::Userinfo { status: Some(502..=504) }
            | LoginError::Graph { status: Some(502..=504), .. }
            | LoginError::Github { status: Some(502..=504), .. } => (Page::IdpUnreachable, None),
            LoginError::TokenEndpoint { error: Some(e), .. } => (Page::LoginFailed, Some(e)),
            LoginError::NotAllowed(_) => (Page::NotAllowed, None),
            LoginError::StepUpNotMet => (Page::StepUpNotMet, None),
            _ => (Page::LoginFailed, None),
        }
    }
}
