//! The bearer-token step: a cache hit, a static API token, a JWT checked against its
//! issuer's keys, or an opaque token introspected at the IdP (`introspect.rs`).

use std::rc::Rc;

use super::{Counter, Decision, Denial, Gate, Io, WaitFor};
use crate::core::identity::Identity;
use crate::core::shared::tokens as shared_tokens;
use crate::core::token::cache::{key_of, Cached};
use crate::core::token::{decode, kind, Expect, JwtError, Untrusted};

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
                Cached { exp: u64::MAX, refresh_at: u64::MAX, identity: identity.clone(), mark: None },
                now_s,
            );
            return Ok(identity);
        }
        if token.bytes().filter(|b| *b == b'.').count() != 2 && self.config.bearer.introspection.is_some() {
            return self.introspected(token, now_ms, may_wait, io);
        }
        match self.jwt(token, now_ms, may_wait, io) {
            // A JWT of the login issuer signed by a key it does not publish (Okta's org
            // authorization server): only the IdP can say, through introspection.
            Err(NotYet::Refused(Denial::InvalidToken(JwtError::UnknownKey)))
                if self.config.bearer.introspection.is_some() && self.login_issuer_token(token) =>
            {
                self.introspected(token, now_ms, may_wait, io)
            }
            other => other,
        }
    }

    /// The provider whose issuer rule accepts the token's stated `iss` (with any of its
    /// tenants), unverified: only to choose the keys. The verified claims are checked
    /// against the rule again, with the token's own `tid`.
    fn issuer_of(&self, untrusted: &Untrusted<'_>) -> Option<usize> {
        let iss = untrusted.unverified_issuer()?;
        self.providers.iter().position(|p| p.signs_tokens() && p.config.rule.accepts_response_iss(iss))
    }

    fn login_issuer_token(&self, token: &str) -> bool {
        decode(token, self.config.bearer.algorithms).ok().is_some_and(|t| self.issuer_of(&t) == Some(0))
    }

    fn jwt(&mut self, token: &str, now_ms: u64, may_wait: bool, io: &mut Io<'_>) -> Result<Rc<Identity>, NotYet> {
        let now_s = now_ms / 1000;
        let untrusted = decode(token, self.config.bearer.algorithms).map_err(invalid)?;
        let idx = self.issuer_of(&untrusted).ok_or(invalid(JwtError::UnknownIssuer))?;
        let min_refetch = self.config.jwks_refetch_min_interval;
        let provider = self.providers.get_mut(idx).ok_or(invalid(JwtError::UnknownIssuer))?;
        let Some(keys) = provider.keys.clone() else {
            return Err(if may_wait && provider.worth_waiting() {
                NotYet::Wait(WaitFor::Provider(idx))
            } else {
                NotYet::Refused(Denial::Unavailable)
            });
        };
        // Verified by another worker of this Envoy already (only with the cache on). A token
        // naming no key of these cannot be there (the keys are part of the scope): it goes
        // straight to its refusal or a key refetch, without up to 16 reads of shared data.
        let shared = (self.config.bearer.cache_size > 0 && untrusted.has_key(&keys)).then(|| {
            (shared_tokens::scope(&self.config.fingerprint, idx, &keys.fingerprint), shared_tokens::digest(token))
        });
        if let Some((scope, digest)) = &shared {
            if let Some((exp, identity)) = shared_tokens::get(io.shared, scope, digest, now_s) {
                (io.count)(Counter::SharedCacheHit);
                let identity = Rc::new(identity);
                self.tokens.insert(
                    key_of(token),
                    Cached { exp, refresh_at: u64::MAX, identity: identity.clone(), mark: None },
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
        // Kinds some IdPs state in the claims (Keycloak's `typ`, Cognito's `token_use`).
        kind::access_token(jwt.claims()).map_err(invalid)?;
        let iss = provider.config.rule.checked(jwt.claims()).map_err(invalid)?;
        let skew = self.config.clock_skew;
        // `bearer.client_ids` name clients of the login issuer (client ids are per IdP).
        let exp = if idx == 0 && kind::unaudienced_client(jwt.claims(), &self.config.bearer.client_ids) {
            kind::check_without_audience(jwt.claims(), now_s, skew).map_err(invalid)?
        } else {
            let expect = Expect { issuer: iss, audiences: &provider.config.audiences, now_s, skew };
            jwt.check(&expect).map_err(invalid)?
        };
        let identity = self.config.identity.identity(provider.config.identity_headers.as_deref(), jwt.claims());
        if let Some((scope, digest)) = &shared {
            shared_tokens::put(io.shared, scope, digest, exp, &identity, now_s);
        }
        self.tokens.insert(
            key_of(token),
            Cached { exp, refresh_at: u64::MAX, identity: identity.clone(), mark: None },
            now_s,
        );
        Ok(identity)
    }
}
