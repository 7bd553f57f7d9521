//! The bearer-token step: a verified-token cache hit, or a full check of a JWT against
//! its issuer's keys.

use std::rc::Rc;

use super::{Counter, Decision, Denial, Gate, Io, WaitFor};

/// A bearer token that does not pass, now or yet.
pub(super) enum NotYet {
    Refused(Denial),
    /// Its issuer's keys are being fetched.
    Wait(WaitFor),
}

impl From<NotYet> for Decision {
    fn from(n: NotYet) -> Decision {
        match n {
            NotYet::Refused(denial) => Decision::Deny(denial),
            NotYet::Wait(on) => Decision::Wait { on, pending: None },
        }
    }
}
use crate::core::identity::Identity;
use crate::core::token::cache::{key_of, Cached};
use crate::core::token::{decode, Expect, JwtError};

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
        let invalid = |e: JwtError| NotYet::Refused(Denial::InvalidToken(e));
        let untrusted = decode(token, self.config.algorithms).map_err(invalid)?;
        let idx = untrusted
            .unverified_issuer()
            .and_then(|iss| self.providers.iter().position(|p| p.issuer() == iss))
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
        let identity = &self.config.identity;
        let mappings = provider.config.identity_headers.as_ref().unwrap_or(&identity.headers);
        let identity = Identity::from_claims(mappings, jwt.claims(), identity.require_email_verified);
        self.tokens.insert(key_of(token), Cached { exp, refresh_at: u64::MAX, identity: identity.clone() }, now_s);
        Ok(identity)
    }
}
