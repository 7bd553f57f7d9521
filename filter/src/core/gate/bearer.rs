//! The bearer-token step: a cache hit, a static API token, a JWT checked against its
//! issuer's keys, or an opaque token introspected at the IdP (`introspect.rs`).

use std::rc::Rc;

use super::{Counter, Decision, Denial, Gate, Io, WaitFor};
use crate::core::identity::Identity;
use crate::core::shared::tokens as shared_tokens;
use crate::core::token::cache::{key_of, Cached};
use crate::core::token::{decode, Expect, JwtError};

/// A bearer token that does not pass, or not yet.
pub(super) enum NotYet {
    Refused(Denial),
    /// What it needs is on its way (its issuer's keys; another request's introspection).
    Wait(WaitFor),
    /// It needs this decision first (its own introspection call).
    Decided(Box<Decision>),
}

impl From<NotYet> for Decision {
    fn from(n: NotYet) -> Decision {
        match n {
            NotYet::Refused(denial) => Decision::Deny(denial),
            NotYet::Wait(on) => Decision::Wait { on, pending: None },
            NotYet::Decided(d) => *d,
        }
    }
}

pub(super) fn invalid(e: JwtError) -> NotYet {
    NotYet::Refused(Denial::InvalidToken(e))
}

impl Gate {
    pub(super) fn bearer(
        &mut self,
        token: &str,
        now_ms: u64,
        may_wait: bool,
        io: &mut Io<'_>,
    ) -> Result<Rc<Identity>, NotYet> {
        let now_s = now_ms / 1000;
        if let Some(hit) = self.tokens.get(token, now_s) {
            (io.count)(Counter::CacheHit);
            return Ok(hit.identity);
        }
        (io.count)(Counter::CacheMiss);
        if let Some(claims) = self.config.bearer.api_tokens.find(token) {
            let identity = self.config.identity.identity(None, &claims);
            self.tokens.insert(
                key_of(token),
                Cached { exp: u64::MAX, refresh_at: u64::MAX, identity: identity.clone() },
                now_s,
            );
            return Ok(identity);
        }
        if token.bytes().filter(|b| *b == b'.').count() != 2 && self.config.bearer.introspection.is_some() {
            return self.introspected(token, now_ms, may_wait, io);
        }
        self.jwt(token, now_ms, may_wait, io)
    }

    fn jwt(&mut self, token: &str, now_ms: u64, may_wait: bool, io: &mut Io<'_>) -> Result<Rc<Identity>, NotYet> {
        let now_s = now_ms / 1000;
        let untrusted = decode(token, self.config.bearer.algorithms).map_err(invalid)?;
        let idx = untrusted
            .unverified_issuer()
            .and_then(|iss| self.providers.iter().position(|p| p.signs_tokens() && p.issuer() == iss))
            .ok_or(invalid(JwtError::UnknownIssuer))?;
        let min_refetch = self.config.jwks_refetch_min_interval;
        let provider = self.providers.get_mut(idx).ok_or(invalid(JwtError::UnknownIssuer))?;
        let Some(keys) = provider.keys.clone() else {
            return Err(if may_wait && provider.worth_waiting() {
                NotYet::Wait(WaitFor::Provider(idx))
            } else {
                NotYet::Refused(Denial::Unavailable)
            });
        };
        // Verified by another worker of this Envoy already (only with the cache on).
        let shared = (self.config.bearer.cache_size > 0).then(|| {
            (shared_tokens::scope(&self.config_fingerprint, idx, &keys.fingerprint), shared_tokens::digest(token))
        });
        if let Some((scope, digest)) = &shared {
            if let Some((exp, identity)) = shared_tokens::get(io.shared, scope, digest, now_s) {
                (io.count)(Counter::SharedCacheHit);
                let identity = Rc::new(identity);
                self.tokens.insert(
                    key_of(token),
                    Cached { exp, refresh_at: u64::MAX, identity: identity.clone() },
                    now_s,
                );
                return Ok(identity);
            }
            (io.count)(Counter::SharedCacheMiss);
        }
        let jwt = match untrusted.verify(&keys) {
            Ok(jwt) => jwt,
            Err(JwtError::UnknownKey) if may_wait && provider.request_refetch(now_ms, min_refetch) => {
                return Err(NotYet::Wait(WaitFor::Provider(idx)));
            }
            Err(e) => return Err(invalid(e)),
        };
        // ID tokens prove a login to this client; they are no API credential, and one
        // that leaked (an `id_token_hint` in a logout URL, say) must not open the API.
        jwt.access_token().map_err(invalid)?;
        let expect = Expect {
            issuer: &provider.config.issuer,
            audiences: &provider.config.audiences,
            now_s,
            skew: self.config.clock_skew,
        };
        let exp = jwt.check(&expect).map_err(invalid)?;
        let identity = self.config.identity.identity(provider.config.identity_headers.as_deref(), jwt.claims());
        if let Some((scope, digest)) = &shared {
            shared_tokens::put(io.shared, scope, digest, exp, &identity, now_s);
        }
        self.tokens.insert(key_of(token), Cached { exp, refresh_at: u64::MAX, identity: identity.clone() }, now_s);
        Ok(identity)
    }
}
