//! The per-worker request decision: bypass, bearer token, cache, providers.

use std::rc::Rc;

use super::cache::{key_of, TokenCache, Verified};
use super::config::Config;
use super::identity::headers_for;
use super::jwt::{check_claims, decode, Expect, JwtError};
use super::metrics::Counter;
use super::provider::Provider;
use super::response::Denial;
use super::rules;

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let it through, setting these identity headers.
    Allow {
        headers: Rc<[(String, String)]>,
        counter: Counter,
    },
    Deny(Denial),
    /// Keys for this provider are being fetched: pause and decide again when they arrive.
    Wait {
        provider: usize,
    },
}

/// What the shell read from the request.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    pub path: String,
    pub authorization: Option<String>,
}

/// Extracts the token from `Authorization: Bearer <token>` (scheme case-insensitive).
/// `None` when there is no bearer credential at all.
pub fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(rest.trim_start())
}

pub struct Gate {
    pub config: Rc<Config>,
    pub providers: Vec<Provider>,
    pub cache: TokenCache,
}

impl Gate {
    pub fn new(config: Rc<Config>) -> Self {
        let providers = config.issuers.iter().cloned().map(Provider::new).collect();
        let cache = TokenCache::new(config.cache_size);
        Gate { config, providers, cache }
    }

    /// Decides a request. `may_wait` is false when deciding again after a wait, so a
    /// request waits at most once.
    pub fn decide(
        &mut self,
        facts: &RequestFacts,
        now_ms: u64,
        may_wait: bool,
        counters: &mut dyn FnMut(Counter),
    ) -> Decision {
        if rules::any_match(&self.config.bypass, &facts.path) {
            return Decision::Allow { headers: Rc::from(Vec::new()), counter: Counter::AllowedBypass };
        }
        let Some(token) = bearer_token(facts.authorization.as_deref()) else {
            return Decision::Deny(Denial::MissingToken);
        };
        self.check_bearer(token, now_ms, may_wait, counters)
    }

    fn check_bearer(
        &mut self,
        token: &str,
        now_ms: u64,
        may_wait: bool,
        counters: &mut dyn FnMut(Counter),
    ) -> Decision {
        let now = now_ms / 1000;
        if let Some(hit) = self.cache.get(token, now) {
            counters(Counter::CacheHit);
            return Decision::Allow { headers: hit.headers, counter: Counter::AllowedBearer };
        }
        counters(Counter::CacheMiss);
        let invalid = |e: JwtError| Decision::Deny(Denial::InvalidToken(e));
        let untrusted = match decode(token, self.config.algorithms) {
            Ok(t) => t,
            Err(e) => return invalid(e),
        };
        let Some(idx) = untrusted.stated_issuer().and_then(|iss| self.providers.iter().position(|p| p.issuer() == iss))
        else {
            return invalid(JwtError::UnknownIssuer);
        };
        let min_refetch_ms = self.config.jwks_refetch_min_interval.as_millis() as u64;
        let Some(provider) = self.providers.get_mut(idx) else {
            return invalid(JwtError::UnknownIssuer);
        };
        let Some(keys) = provider.keys.clone() else {
            // Never loaded: wait for the fetch under way, else the IdP is down.
            return if may_wait && (provider.failures() == 0 || provider.busy()) {
                Decision::Wait { provider: idx }
            } else {
                Decision::Deny(Denial::Unavailable)
            };
        };
        match untrusted.verify_signature(&keys) {
            Ok(()) => {}
            Err(JwtError::UnknownKey) if may_wait && provider.request_refetch(now_ms, min_refetch_ms) => {
                return Decision::Wait { provider: idx };
            }
            Err(e) => return invalid(e),
        }
        let expect = Expect {
            issuer: &provider.config.issuer,
            audiences: &provider.config.audiences,
            now,
            skew: self.config.clock_skew,
        };
        let exp = match check_claims(&untrusted.claims, &expect) {
            Ok(exp) => exp,
            Err(e) => return invalid(e),
        };
        let headers: Rc<[(String, String)]> = Rc::from(headers_for(&self.config.identity_headers, &untrusted.claims));
        self.cache.insert(key_of(token), Verified { exp, headers: headers.clone() }, now);
        Decision::Allow { headers, counter: Counter::AllowedBearer }
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
