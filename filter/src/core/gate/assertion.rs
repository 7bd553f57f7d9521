//! An allowed request with an identity, and its signed identity assertion (`assertion`):
//! taken from the worker's cache when this identity has a fresh one for this origin,
//! else signed once and kept.

use serde_json::Value;
use std::rc::Rc;

use super::{bad_host, Counter, Decision, Denial, Gate, Io, Request};
use crate::core::assertion::cache::OriginParts;
use crate::core::assertion::Subject;
use crate::core::identity::Identity;
use crate::core::web::Origin;

/// Why a request that needs an assertion cannot have one.
enum Unsigned {
    /// A `Host` that is no origin, so no `iss` (400).
    BadHost,
    /// The signature failed (503).
    Unavailable,
}

impl Gate {
    /// Lets a verified caller through, with the assertion about them when configured.
    pub(super) fn allow_signed(
        &mut self,
        identity: Rc<Identity>,
        counter: Counter,
        req: &mut Request<'_>,
        set_cookies: Vec<String>,
        now_ms: u64,
        io: &mut Io<'_>,
    ) -> Decision {
        let assertion = match self.assertion(&identity, counter, req, now_ms / 1000, io) {
            Ok(a) => a,
            Err(Unsigned::BadHost) => return bad_host(),
            Err(Unsigned::Unavailable) => return Decision::Deny(Denial::Unavailable),
        };
        match self.allow(identity, counter, req, set_cookies) {
            Decision::Allow { identity, counter, cookie, set_cookies, .. } => {
                Decision::Allow { identity, counter, cookie, set_cookies, assertion }
            }
            other => other,
        }
    }

    /// The assertion for this identity: `None` when none is configured or the identity has
    /// no `sub`; a refusal when it cannot be made (a `Host` that is no origin).
    fn assertion(
        &mut self,
        identity: &Rc<Identity>,
        counter: Counter,
        req: &mut Request<'_>,
        now_s: u64,
        io: &mut Io<'_>,
    ) -> Result<Option<Rc<str>>, Unsigned> {
        let config = self.config.clone();
        let Some(a) = config.assertion.as_ref() else { return Ok(None) };
        if !identity.claims.get("sub").is_some_and(Value::is_string) {
            return Ok(None);
        }
        // The request's origin as sent: a hit compares it with the origin an assertion was
        // signed for (a checked one) without a copy; only a miss checks and lower-cases it.
        let sent = match a.issuer {
            Some(_) => None,
            None => Some((req.header(":scheme"), req.header(":authority").ok_or(Unsigned::BadHost)?)),
        };
        let as_sent = sent.as_ref().map(|(scheme, authority)| OriginParts {
            scheme: if scheme.as_deref() == Some("https") { "https" } else { "http" },
            authority,
        });
        if let Some(jwt) = self.assertions.get(identity, as_sent, now_s) {
            (io.count)(Counter::AssertionCacheHit);
            return Ok(Some(jwt));
        }
        (io.count)(Counter::AssertionCacheMiss);
        let origin = match &sent {
            None => None,
            Some((scheme, authority)) => {
                Some(Origin::from_request(scheme.as_deref(), Some(authority)).ok_or(Unsigned::BadHost)?)
            }
        };
        let parts = origin.as_ref().map(|o| OriginParts { scheme: o.scheme, authority: &o.authority });
        let own_origin = parts.map(OriginParts::to_origin);
        let issuer = a.issuer.as_deref().or(own_origin.as_deref()).unwrap_or_default();
        // Who vouched: the credential's issuer, else (a session) the login issuer.
        let idp = identity.claims.get("iss").and_then(Value::as_str).or_else(|| {
            (counter == Counter::AllowedSession).then(|| self.config.issuers.first().map(|i| i.issuer.as_str()))?
        });
        let subject = Subject { issuer, idp };
        let signed = a.claims(&identity.claims, &subject, now_s).map(|claims| a.sign(&claims, io.rng));
        match signed {
            None => Ok(None),
            Some(Ok(jwt)) => {
                let jwt: Rc<str> = Rc::from(jwt);
                self.assertions.insert(identity.clone(), parts, jwt.clone(), a.renew_at(now_s), now_s);
                Ok(Some(jwt))
            }
            Some(Err(_)) => Err(Unsigned::Unavailable),
        }
    }
}
