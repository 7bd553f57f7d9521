//! Why a token was refused.

use std::fmt;

/// Why a token was refused. Each maps to a reason counter and an RFC 6750 description.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum JwtError {
    /// Not three base64url parts, bad JSON, bad claim types, or too large.
    Malformed,
    /// `none`, an HMAC algorithm, or one not in the allow-list.
    DisallowedAlg,
    /// `iss` names no configured issuer.
    UnknownIssuer,
    /// No key with the token's `kid` (or no single key that fits when `kid` is absent).
    UnknownKey,
    BadSignature,
    Expired,
    /// `nbf` or `iat` lies in the future beyond the clock skew.
    NotYetValid,
    /// `exp` absent: tokens without an expiry are refused.
    MissingExp,
    WrongAudience,
    /// The header carries `crit` extensions this filter does not understand.
    UnsupportedCrit,
    /// An ID token (it carries a login `nonce`, `at_hash` or `c_hash`) offered as a
    /// bearer access token.
    IdTokenAsBearer,
    /// A token whose JOSE `typ` says it is something else than an access token.
    NotAccessToken,
    /// Introspection says the (opaque) token is not active.
    Inactive,
}

impl JwtError {
    /// Stable short name, used in counters and logs.
    pub fn reason(self) -> &'static str {
        match self {
            JwtError::Malformed => "malformed",
            JwtError::DisallowedAlg => "disallowed_alg",
            JwtError::UnknownIssuer => "unknown_issuer",
            JwtError::UnknownKey => "unknown_key",
            JwtError::BadSignature => "bad_signature",
            JwtError::Expired => "expired",
            JwtError::NotYetValid => "not_yet_valid",
            JwtError::MissingExp => "missing_exp",
            JwtError::WrongAudience => "wrong_audience",
            JwtError::UnsupportedCrit => "unsupported_crit",
            JwtError::IdTokenAsBearer => "id_token",
            JwtError::NotAccessToken => "not_access_token",
            JwtError::Inactive => "inactive",
        }
    }

    /// Text for `error_description`: says what is wrong, nothing about the keys.
    pub fn description(self) -> &'static str {
        match self {
            JwtError::Malformed => "The access token is malformed",
            JwtError::DisallowedAlg => "The access token's signing algorithm is not allowed",
            JwtError::UnknownIssuer => "The access token's issuer is not trusted",
            JwtError::UnknownKey => "The access token is signed by an unknown key",
            JwtError::BadSignature => "The access token's signature is invalid",
            JwtError::Expired => "The access token expired",
            JwtError::NotYetValid => "The access token is not valid yet",
            JwtError::MissingExp => "The access token has no expiry",
            JwtError::WrongAudience => "The access token is not meant for this audience",
            JwtError::UnsupportedCrit => "The access token uses unsupported critical extensions",
            JwtError::IdTokenAsBearer => "An ID token is not an access token",
            JwtError::NotAccessToken => "The token is not an access token",
            JwtError::Inactive => "The access token is not active",
        }
    }
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}
