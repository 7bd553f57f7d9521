//! Counter names exposed on Envoy's `/stats` (as `wasmcustom.oidc_gate.*`).

use crate::core::token::JwtError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    AllowedBearer,
    AllowedSession,
    AllowedBypass,
    /// An `allow: "anyone"` path, without a credential that passes.
    AllowedPublic,
    /// A CORS preflight let through unauthenticated (`cors_preflight: "allow"`).
    AllowedPreflight,
    DeniedMissingToken,
    /// A credential that may not pass here (an authorization requirement or rule).
    DeniedForbidden,
    DeniedInsufficientScope,
    /// A route's step-up (`acr_values`, `max_age`) not met: RFC 9470's 401.
    DeniedInsufficientUserAuthentication,
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
    /// A back-channel logout had ended the session a request carried.
    SessionRevoked,
    /// A logout token accepted, or refused, at `backchannel_logout_path`.
    BackchannelLogout,
    BackchannelLogoutRefused,
    LoginStarted,
    /// A session sent to sign in again for a route's step-up.
    LoginStepUp,
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
    /// An identity assertion reused from the worker's cache, or signed anew.
    AssertionCacheHit,
    AssertionCacheMiss,
    /// The assertion's JWKS served.
    AssertionJwks,
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

const PLAIN: [Counter; 40] = [
    Counter::AllowedBearer,
    Counter::AllowedSession,
    Counter::AllowedBypass,
    Counter::AllowedPublic,
    Counter::DeniedMissingToken,
    Counter::DeniedForbidden,
    Counter::DeniedInsufficientScope,
    Counter::DeniedInsufficientUserAuthentication,
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
    Counter::SessionRevoked,
    Counter::BackchannelLogout,
    Counter::BackchannelLogoutRefused,
    Counter::LoginStarted,
    Counter::LoginStepUp,
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
    Counter::AllowedPreflight,
    Counter::AssertionCacheHit,
    Counter::AssertionCacheMiss,
    Counter::AssertionJwks,
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
            Counter::AllowedPreflight => "allowed.preflight",
            Counter::DeniedForbidden => "denied.forbidden",
            Counter::DeniedInsufficientScope => "denied.insufficient_scope",
            Counter::DeniedInsufficientUserAuthentication => "denied.insufficient_user_authentication",
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
            Counter::SessionRevoked => "session.revoked",
            Counter::BackchannelLogout => "backchannel_logout.accepted",
            Counter::BackchannelLogoutRefused => "backchannel_logout.refused",
            Counter::LoginStarted => "login.started",
            Counter::LoginStepUp => "login.step_up",
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
            Counter::AssertionCacheHit => "assertion_cache.hit",
            Counter::AssertionCacheMiss => "assertion_cache.miss",
            Counter::AssertionJwks => "assertion.jwks_served",
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
