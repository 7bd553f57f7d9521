//! Opaque bearer tokens, through introspection (RFC 7662) at the login issuer: one call
//! per token per Envoy (a shared flight; requests with the same unknown token wait for
//! it), active answers cached until the earlier of their `exp` and `cache_ttl`, inactive
//! ones remembered for `inactive_cache_ttl`. A token of impossible shape never causes a
//! call.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::rc::Rc;
use std::time::Duration;

use super::bearer::{invalid, NotYet};
use super::{Counter, Decision, Denial, Gate, Io, Pending, RequestHeaders, WaitFor};
use crate::core::identity::Identity;
use crate::core::idp::client::Signer;
use crate::core::idp::introspection::{self, Expect, IntrospectionError};
use crate::core::idp::token_endpoint::TokenRequest;
use crate::core::shared::flight::{Flight, Id, Seen};
use crate::core::token::cache::{key_of, Cached, Refused};
use crate::core::token::JwtError;
use crate::core::web::AbsoluteUrl;

/// Opaque tokens longer than this are refused without a call.
pub const MAX_OPAQUE_TOKEN: usize = 4096;
const KIND: &str = "introspect";

/// An introspection under way for a request. `Debug` shows no token.
pub struct Introspection {
    token: String,
    id: Id,
    /// The shared slot this request claimed (others wait on it), if any.
    claimed: Option<String>,
}

impl Introspection {
    /// The shared slot this call claimed, and the subject's id.
    pub(super) fn claimed(&self) -> Option<(&str, Id)> {
        self.claimed.as_deref().map(|k| (k, self.id))
    }
}

impl std::fmt::Debug for Introspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Introspection {{ token: [redacted], claimed: {:?} }}", self.claimed)
    }
}

/// Another request (maybe on another worker) is asking: wait for its answer.
fn wait_or_unavailable(may_wait: bool, key: &str) -> NotYet {
    if may_wait {
        NotYet::Wait(WaitFor::Flight(Rc::from(key)))
    } else {
        NotYet::Refused(Denial::Unavailable)
    }
}

fn id_of(token: &str) -> Id {
    let d = Sha256::digest(token.as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(d.get(..16).unwrap_or(&[0u8; 16]));
    id
}

impl Gate {
    pub(super) fn introspected(
        &mut self,
        token: &str,
        now_ms: u64,
        may_wait: bool,
        io: &mut Io<'_>,
    ) -> Result<Rc<Identity>, NotYet> {
        let now_s = now_ms / 1000;
        if !introspection::plausible(token, MAX_OPAQUE_TOKEN) {
            return Err(invalid(JwtError::Malformed));
        }
        if let Some(refused) = self.refused.get(token, now_s) {
            return Err(invalid(refused.error));
        }
        let id = id_of(token);
        let mut flight = Flight::new(io.shared, KIND, id);
        let seen = flight.look(now_ms);
        let key = flight.key().to_string();
        let cas = match seen {
            Seen::Done { outcome, .. } => {
                return self.take_outcome(token, &outcome, now_s).ok_or(invalid(JwtError::Malformed));
            }
            Seen::Dead => return Err(invalid(JwtError::Inactive)),
            Seen::Failed { .. } => return Err(NotYet::Refused(Denial::Unavailable)),
            Seen::Busy => return Err(wait_or_unavailable(may_wait, &key)),
            Seen::Taken => None,
            Seen::Free { cas, .. } => Some(cas),
        };
        // A request decided again after its own call's answer takes what that answer left:
        // it never calls again, so it can never call in a loop.
        if self.answering {
            return Err(NotYet::Refused(Denial::Unavailable));
        }
        // What the call needs: the login issuer's metadata (wait for it like any request) and
        // its introspection endpoint (without one, opaque tokens cannot be checked).
        let provider = self.providers.first().ok_or(NotYet::Refused(Denial::Unavailable))?;
        let Some(metadata) = provider.metadata.as_ref() else {
            return Err(if may_wait && provider.worth_waiting() {
                NotYet::Wait(WaitFor::Provider(0))
            } else {
                NotYet::Refused(Denial::Unavailable)
            });
        };
        let Some(url) = metadata.introspection_endpoint.as_deref().and_then(|u| AbsoluteUrl::parse(u).ok()) else {
            return Err(invalid(JwtError::Malformed));
        };
        // Made before the shared slot is claimed: a client assertion that cannot be signed
        // leaves no claimed slot behind.
        let at = TokenRequest { client: &self.config.client, url: &url, clusters: &self.config.clusters };
        let audience =
            metadata.token_endpoint.as_deref().unwrap_or(metadata.introspection_endpoint.as_deref().unwrap_or(""));
        let callout = introspection::request(&at, token, audience, Signer { now_s, rng: io.rng })
            .map_err(|_| NotYet::Refused(Denial::Unavailable))?;
        let claimed = match cas {
            None => None,
            Some(cas)
                if Flight::at(io.shared, &key, id).claim(
                    cas,
                    now_ms,
                    self.config.idp_timeout + Duration::from_secs(2),
                ) =>
            {
                Some(key)
            }
            Some(_) => return Err(wait_or_unavailable(may_wait, &key)),
        };
        let pending = Pending::Introspect(Box::new(Introspection { token: token.to_string(), id, claimed }));
        Err(NotYet::Decided(Box::new(Decision::Call { callout, pending })))
    }

    /// The identity an introspection outcome (from the shared slot) makes, cached here.
    fn take_outcome(&mut self, token: &str, outcome: &[u8], now_s: u64) -> Option<Rc<Identity>> {
        let v: Value = serde_json::from_slice(outcome).ok()?;
        let claims: Map<String, Value> = v.get("claims")?.as_object()?.clone();
        let until = v.get("until")?.as_u64()?;
        let identity = self.config.identity.identity(None, &claims);
        self.tokens.insert(
            key_of(token),
            Cached { exp: until, refresh_at: u64::MAX, identity: identity.clone(), mark: None },
            now_s,
        );
        Some(identity)
    }

    /// Takes the IdP's answer, shares and caches it, then decides the request again (now a
    /// cache hit, or a remembered refusal).
    pub(super) fn introspection_answered(
        &mut self,
        call: &Introspection,
        status: Option<u16>,
        body: &[u8],
        now_ms: u64,
        headers: &mut dyn RequestHeaders,
        io: &mut Io<'_>,
    ) -> Decision {
        let now_s = now_ms / 1000;
        let (Some(settings), Some(provider)) = (&self.config.bearer.introspection, self.providers.first()) else {
            return Decision::Deny(Denial::Unavailable);
        };
        let expect = Expect {
            issuer: provider.issuer(),
            audiences: &provider.config.audiences,
            client_ids: &self.config.bearer.client_ids,
            now_s,
            skew: self.config.clock_skew,
        };
        let mut flight = call.claimed.as_deref().map(|key| Flight::at(io.shared, key, call.id));
        // Kept at least a second, whatever the answer's `exp` (within the clock skew) or
        // the TTLs say: the request decided again below must find it.
        let at_least = now_s.saturating_add(1);
        match introspection::parse(status, body, &expect) {
            Ok((claims, exp)) => {
                (io.count)(Counter::IntrospectionActive);
                let until =
                    exp.unwrap_or(u64::MAX).min(now_s.saturating_add(settings.cache_ttl.as_secs())).max(at_least);
                let outcome = json!({"claims": claims, "until": until}).to_string();
                if let Some(f) = flight.as_mut() {
                    f.done(outcome.as_bytes(), until.saturating_mul(1000));
                }
                self.take_outcome(&call.token, outcome.as_bytes(), now_s);
            }
            Err(IntrospectionError::Refused(error)) => {
                (io.count)(Counter::IntrospectionInactive);
                let until = now_s.saturating_add(settings.inactive_ttl.as_secs()).max(at_least);
                if let Some(f) = flight.as_mut() {
                    f.dead(until.saturating_mul(1000));
                }
                self.refused.insert(key_of(&call.token), Refused { exp: until, error }, now_s);
            }
            Err(IntrospectionError::Unavailable) => {
                (io.count)(Counter::IntrospectionFailure);
                if let Some(f) = flight.as_mut() {
                    f.failed(now_ms.saturating_add(1000), 1);
                }
                return Decision::Deny(Denial::Unavailable);
            }
        }
        // Decided again without waiting: a cache hit, a remembered refusal, or (should the
        // entry be gone) 503; never another call.
        self.answering = true;
        let decision = self.decide(headers, now_ms, false, io);
        self.answering = false;
        decision
    }
}
