//! Counter names exposed on Envoy's `/stats` (as `wasmcustom.oidc_gate.*`).

use crate::core::token::JwtError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    AllowedBearer,
    AllowedSession,
    AllowedBypass,
    /// An `allow: "anyone"` path, without a credential that passes.
    AllowedPublic,
    DeniedMissingToken,
    /// A credential that may not pass here (an authorization requirement or rule).
    DeniedForbidden,
    DeniedInsufficientScope,
    /// A request the filter cannot read (a `Host` that is not host[:port]).
    DeniedBadRequest,
    DeniedInvalidToken(JwtError),
    DeniedUnavailable,
    CacheHit,
    CacheMiss,
    /// A JWT another worker of this Envoy verified (shared cache), after a miss here.
    SharedCacheHit,
    /// A JWT in neither cache: its signature is checked now.
    SharedCacheMiss,
    SessionInvalid,
    SessionExpired,
    SessionRefreshed,
    SessionRefreshFailed,
    /// The IdP refused a session's refresh token: the session ended.
    SessionEnded,
    LoginStarted,
    LoginCompleted,
    LoginFailed,
    Logout,
    LogoutConfirmation,
    ResourceMetadata,
    DiscoveryFetch,
    DiscoveryFailure,
    JwksFetch,
    JwksFailure,
    /// An introspection call's answer: a token active, inactive, or no usable answer.
    IntrospectionActive,
    IntrospectionInactive,
    IntrospectionFailure,
}

const JWT_ERRORS: [JwtError; 13] = [
    JwtError::Malformed,
    JwtError::DisallowedAlg,
    JwtError::UnknownIssuer,
    JwtError::UnknownKey,
    JwtError::BadSignature,
    JwtError::Expired,
    JwtError::NotYetValid,
    JwtError::MissingExp,
    JwtError::WrongAudience,
    JwtError::UnsupportedCrit,
    JwtError::IdTokenAsBearer,
    JwtError::NotAccessToken,
    JwtError::Inactive,
];

const PLAIN: [Counter; 31] = [
    Counter::AllowedBearer,
    Counter::AllowedSession,
    Counter::AllowedBypass,
    Counter::AllowedPublic,
    Counter::DeniedMissingToken,
    Counter::DeniedForbidden,
    Counter::DeniedInsufficientScope,
    Counter::DeniedBadRequest,
    Counter::DeniedUnavailable,
    Counter::CacheHit,
    Counter::CacheMiss,
    Counter::SharedCacheHit,
    Counter::SharedCacheMiss,
    Counter::SessionInvalid,
    Counter::SessionExpired,
    Counter::SessionRefreshed,
    Counter::SessionRefreshFailed,
    Counter::SessionEnded,
    Counter::LoginStarted,
    Counter::LoginCompleted,
    Counter::LoginFailed,
    Counter::Logout,
    Counter::LogoutConfirmation,
    Counter::ResourceMetadata,
    Counter::DiscoveryFetch,
    Counter::DiscoveryFailure,
    Counter::JwksFetch,
    Counter::JwksFailure,
    Counter::IntrospectionActive,
    Counter::IntrospectionInactive,
    Counter::IntrospectionFailure,
];

impl Counter {
    /// Every counter, in index order.
    pub fn all() -> Vec<Counter> {
        let mut v = PLAIN.to_vec();
        v.extend(JWT_ERRORS.iter().map(|e| Counter::DeniedInvalidToken(*e)));
        v
    }

    /// Position in [`Counter::all`], for a metric-id table.
    pub fn index(self) -> usize {
        match self {
            Counter::DeniedInvalidToken(e) => PLAIN.len() + JWT_ERRORS.iter().position(|x| *x == e).unwrap_or(0),
            other => PLAIN.iter().position(|x| *x == other).unwrap_or(0),
        }
    }

    pub fn name(self) -> String {
        let plain = match self {
            Counter::AllowedBearer => "allowed.bearer",
            Counter::AllowedSession => "allowed.session",
            Counter::AllowedBypass => "allowed.bypass",
            Counter::AllowedPublic => "allowed.public",
            Counter::DeniedForbidden => "denied.forbidden",
            Counter::DeniedInsufficientScope => "denied.insufficient_scope",
            Counter::DeniedMissingToken => "denied.missing_token",
            Counter::DeniedBadRequest => "denied.bad_request",
            Counter::DeniedInvalidToken(e) => return format!("oidc_gate.denied.invalid_token.{}", e.reason()),
            Counter::DeniedUnavailable => "denied.idp_unavailable",
            Counter::CacheHit => "token_cache.hit",
            Counter::CacheMiss => "token_cache.miss",
            Counter::SharedCacheHit => "token_cache.shared_hit",
            Counter::SharedCacheMiss => "token_cache.shared_miss",
            Counter::SessionInvalid => "session.invalid",
            Counter::SessionExpired => "session.expired",
            Counter::SessionRefreshed => "session.refreshed",
            Counter::SessionRefreshFailed => "session.refresh_failed",
            Counter::SessionEnded => "session.ended",
            Counter::LoginStarted => "login.started",
            Counter::LoginCompleted => "login.completed",
            Counter::LoginFailed => "login.failed",
            Counter::Logout => "logout",
            Counter::LogoutConfirmation => "logout.confirmation_shown",
            Counter::ResourceMetadata => "resource_metadata.served",
            Counter::DiscoveryFetch => "idp.discovery_fetch",
            Counter::DiscoveryFailure => "idp.discovery_failure",
            Counter::JwksFetch => "idp.jwks_fetch",
            Counter::JwksFailure => "idp.jwks_failure",
            Counter::IntrospectionActive => "idp.introspection_active",
            Counter::IntrospectionInactive => "idp.introspection_inactive",
            Counter::IntrospectionFailure => "idp.introspection_failure",
        };
        format!("oidc_gate.{plain}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_matches_position_and_names_are_unique() {
        let all = Counter::all();
        for (i, c) in all.iter().enumerate() {
            assert_eq!(c.index(), i, "{c:?}");
        }
        let mut names: Vec<String> = all.iter().map(|c| c.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert_eq!(Counter::DeniedInvalidToken(JwtError::Expired).name(), "oidc_gate.denied.invalid_token.expired");
        assert_eq!(Counter::LoginCompleted.name(), "oidc_gate.login.completed");
    }
}
