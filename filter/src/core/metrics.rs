//! Counter names exposed on Envoy's `/stats` (as `wasmcustom.oidc_gate.*`).

use super::jwt::JwtError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    AllowedBearer,
    AllowedBypass,
    DeniedMissingToken,
    DeniedInvalidToken(JwtError),
    DeniedUnavailable,
    CacheHit,
    CacheMiss,
    DiscoveryFetch,
    DiscoveryFailure,
    JwksFetch,
    JwksFailure,
}

const JWT_ERRORS: [JwtError; 10] = [
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
];

impl Counter {
    /// Every counter, in index order.
    pub fn all() -> Vec<Counter> {
        let mut v = vec![Counter::AllowedBearer, Counter::AllowedBypass, Counter::DeniedMissingToken];
        v.extend(JWT_ERRORS.iter().map(|e| Counter::DeniedInvalidToken(*e)));
        v.extend([
            Counter::DeniedUnavailable,
            Counter::CacheHit,
            Counter::CacheMiss,
            Counter::DiscoveryFetch,
            Counter::DiscoveryFailure,
            Counter::JwksFetch,
            Counter::JwksFailure,
        ]);
        v
    }

    /// Position in [`Counter::all`], for a metric-id table.
    pub fn index(self) -> usize {
        match self {
            Counter::AllowedBearer => 0,
            Counter::AllowedBypass => 1,
            Counter::DeniedMissingToken => 2,
            Counter::DeniedInvalidToken(e) => 3 + JWT_ERRORS.iter().position(|x| *x == e).unwrap_or(0),
            Counter::DeniedUnavailable => 13,
            Counter::CacheHit => 14,
            Counter::CacheMiss => 15,
            Counter::DiscoveryFetch => 16,
            Counter::DiscoveryFailure => 17,
            Counter::JwksFetch => 18,
            Counter::JwksFailure => 19,
        }
    }

    pub fn name(self) -> String {
        match self {
            Counter::AllowedBearer => "oidc_gate.allowed.bearer".into(),
            Counter::AllowedBypass => "oidc_gate.allowed.bypass".into(),
            Counter::DeniedMissingToken => "oidc_gate.denied.missing_token".into(),
            Counter::DeniedInvalidToken(e) => format!("oidc_gate.denied.invalid_token.{}", e.reason()),
            Counter::DeniedUnavailable => "oidc_gate.denied.idp_unavailable".into(),
            Counter::CacheHit => "oidc_gate.token_cache.hit".into(),
            Counter::CacheMiss => "oidc_gate.token_cache.miss".into(),
            Counter::DiscoveryFetch => "oidc_gate.idp.discovery_fetch".into(),
            Counter::DiscoveryFailure => "oidc_gate.idp.discovery_failure".into(),
            Counter::JwksFetch => "oidc_gate.idp.jwks_fetch".into(),
            Counter::JwksFailure => "oidc_gate.idp.jwks_failure".into(),
        }
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
    }
}
