//! The per-worker request decision, as a short pipeline of steps:
//! login endpoints → bypass → credential (bearer token, then session cookie) → identity.
//! A request without a credential gets what its kind of client expects (a login
//! redirect, a 401, a page). Each step lives in its own file; the shell carries out the
//! [`Decision`].

mod assertion;
mod backchannel;
mod bearer;
pub mod decision;
pub mod denial;
mod endpoints;
mod forbidden;
pub(crate) mod introspect;
pub mod metrics;
mod preflight;
mod refresh;
pub mod request;
mod resume;
mod session;
mod step_up;
mod unauthenticated;

use std::rc::Rc;

pub use decision::{CookieRewrite, Decision, Level, LogLine, Pending, WaitFor};
pub use denial::Denial;
pub use metrics::Counter;
pub use request::{bearer_token, Request, RequestHeaders};
pub use resume::Answer;

use crate::core::assertion::Assertions;
use crate::core::authz::{Access, Rule, Verdict};
use crate::core::config::Config;
use crate::core::identity::Identity;
use crate::core::idp::Provider;
use crate::core::rand::Random;
use crate::core::shared::revoked::Revocations;
use crate::core::shared::SharedStore;
use crate::core::token::cache::{RefusedCache, TokenCache};
use crate::core::web::cookies;
use crate::core::web::is_normalized;
use crate::core::web::path_rule::any_match;

pub struct Gate {
    pub config: Rc<Config>,
    /// One per configured issuer; index 0 is the login issuer.
    pub providers: Vec<Provider>,
    /// Verified bearer tokens.
    tokens: TokenCache,
    /// Opened session cookies, keyed by their sealed value: a hit skips the AEAD and JSON.
    sessions: TokenCache,
    /// Opaque tokens the IdP said are not active, remembered briefly.
    refused: RefusedCache,
    /// Signed identity assertions, by identity.
    assertions: Assertions,
    /// No identity (bypassed requests), shared rather than allocated each time.
    anonymous: Rc<Identity>,
    /// Set while a request is decided again right after its own call's answer: then it
    /// takes what that answer left and never calls again (no call loops).
    answering: bool,
    /// This worker's copy of the back-channel logouts (shared data is the truth).
    revocations: Revocations,
}

/// What a decision may use from outside the core: randomness, the data shared with the
/// other workers of this Envoy, and the counters.
pub struct Io<'a> {
    pub rng: &'a mut dyn Random,
    pub shared: &'a mut dyn SharedStore,
    pub count: &'a mut dyn FnMut(Counter),
    /// Lines for Envoy's log (never a token, code, cookie or secret).
    pub log: &'a mut dyn FnMut(LogLine),
}

/// What the credential step found.
enum Credential {
    Verified {
        identity: Rc<Identity>,
        counter: Counter,
        set_cookies: Vec<String>,
    },
    /// A credential that decides alone: refused, waiting, or making a call first.
    Decided(Decision),
    /// No usable credential; `lapsed` when a session cookie was there but is no longer good.
    Absent {
        lapsed: bool,
    },
    /// The IdP ended the session (its refresh token was refused): its cookies are cleared.
    Ended,
}

impl Gate {
    pub fn new(config: Rc<Config>) -> Self {
        let providers = config.issuers.iter().cloned().map(Provider::new).collect();
        let tokens = TokenCache::new(config.bearer.cache_size);
        let sessions = TokenCache::new(config.bearer.cache_size);
        let refused = RefusedCache::new(config.bearer.cache_size);
        // One per cached token and one per cached session at most.
        let assertions = Assertions::new(if config.assertion.is_some() { config.bearer.cache_size * 2 } else { 0 });
        let anonymous = Rc::new(Identity::default());
        let revocations = Revocations::default();
        Gate { config, providers, tokens, sessions, refused, assertions, anonymous, answering: false, revocations }
    }

    /// An issuer's keys changed: cached verifications may name keys that are gone.
    pub fn keys_changed(&mut self) {
        self.tokens.clear();
    }

    /// Decides a request. `may_wait` is false when deciding again after a wait, so a
    /// request waits at most once. `now_ms` is 0 when the host has no clock.
    pub fn decide(
        &mut self,
        headers: &mut dyn RequestHeaders,
        now_ms: u64,
        may_wait: bool,
        io: &mut Io<'_>,
    ) -> Decision {
        if now_ms == 0 {
            // No clock: nothing can be checked for expiry.
            return Decision::Deny(Denial::Unavailable);
        }
        let config = self.config.clone();
        let mut req = Request::read(headers, config.login.is_some());
        if let Some(decision) = self.metadata_endpoint(&req) {
            return decision;
        }
        if let Some(login) = &config.login {
            if let Some(decision) = backchannel::endpoint(login, &mut req) {
                return decision;
            }
            if let Some(decision) = self.endpoint(login, &mut req, now_ms, may_wait, io.rng) {
                return decision;
            }
        }
        if any_match(&config.bypass, &req.path_and_query) {
            return self.allow(self.anonymous.clone(), Counter::AllowedBypass, &mut req, Vec::new());
        }
        if config.cors_preflight && preflight::is_preflight(&mut req, &config.bearer.token_headers) {
            return self.allow(self.anonymous.clone(), Counter::AllowedPreflight, &mut req, Vec::new());
        }
        if config.authz.needs_plain_paths() && !is_normalized(req.path()) {
            let response = crate::core::web::LocalResponse::plain(400, "the path is not in plain form");
            return Decision::Respond { response, counter: Counter::DeniedBadRequest, log: None };
        }
        let credential = self.credential(&mut req, now_ms, may_wait, io);
        self.judge(&mut req, credential, now_ms, may_wait, io)
    }

    /// What a credential decides for this request: the authorization rules first, then
    /// through, forbidden, or what having no credential means. Every credential (also one
    /// renewed by a refresh, decided after its callout) is judged here and only here.
    fn judge(
        &mut self,
        req: &mut Request<'_>,
        credential: Credential,
        now_ms: u64,
        may_wait: bool,
        io: &mut Io<'_>,
    ) -> Decision {
        let config = self.config.clone();
        let method = if config.authz.reads_methods() { req.header(":method") } else { None };
        let rule = config.authz.rule_for(method.as_deref(), req.path());
        let public = rule.is_some_and(|r| matches!(r.access, Access::Anyone));
        let anyone = |g: &Self, req: &mut Request<'_>, set_cookies| {
            g.allow(g.anonymous.clone(), Counter::AllowedPublic, req, set_cookies)
        };
        match credential {
            Credential::Verified { identity, counter, set_cookies } => {
                match config.authz.check(rule, &identity.claims, counter == Counter::AllowedBearer) {
                    Verdict::Allow => match rule.and_then(Rule::step_up) {
                        Some(step) if !step.met_by(&identity.claims, now_ms / 1000, config.clock_skew) => {
                            self.step_up(req, step, (counter, set_cookies), (now_ms / 1000, may_wait), io)
                        }
                        _ => self.allow_signed(identity, counter, req, set_cookies, now_ms, io),
                    },
                    Verdict::Deny(_) if public => anyone(self, req, set_cookies),
                    Verdict::Deny(refusal) => self.forbidden(req, &identity, refusal, counter, io),
                }
            }
            // A session that just ended still has its cookies cleared on a public path.
            Credential::Ended if public => anyone(self, req, self.clearing(req)),
            Credential::Decided(Decision::Deny(_)) | Credential::Absent { .. } if public => {
                anyone(self, req, Vec::new())
            }
            Credential::Decided(decision) => decision,
            Credential::Absent { lapsed } => self.unauthenticated(req, lapsed, now_ms, may_wait, io),
            Credential::Ended => self.ended(req, now_ms, io),
        }
    }

    /// A bearer token when the request has one (it decides alone), else the session.
    fn credential(&mut self, req: &mut Request<'_>, now_ms: u64, may_wait: bool, io: &mut Io<'_>) -> Credential {
        let config = self.config.clone();
        if let Some(token) = req.token(&config.bearer.token_headers) {
            return match self.bearer(token.as_str(), now_ms, may_wait, io) {
                Ok(identity) => Credential::Verified { identity, counter: Counter::AllowedBearer, set_cookies: vec![] },
                Err(not_yet) => Credential::Decided(not_yet.into()),
            };
        }
        match &config.login {
            Some(login) => self.session(login, req, now_ms, may_wait, io),
            None => Credential::Absent { lapsed: false },
        }
    }

    /// Lets the request through; the filter's own cookies never go upstream.
    pub(super) fn allow(
        &self,
        identity: Rc<Identity>,
        counter: Counter,
        req: &mut Request<'_>,
        set_cookies: Vec<String>,
    ) -> Decision {
        let rest = self.config.login.as_ref().and_then(|login| req.take_upstream_cookie(&login.session.cookies));
        let cookie = match rest {
            Some(cookies::Without::Rest(rest)) => CookieRewrite::Set(rest),
            Some(cookies::Without::Nothing) => CookieRewrite::Remove,
            Some(cookies::Without::Unchanged) | None => CookieRewrite::Keep,
        };
        Decision::Allow { identity, counter, cookie, set_cookies, assertion: None }
    }
}

/// A `Host` that is not plain host[:port]: it would end up in URLs the browser follows.
fn bad_host() -> Decision {
    let response = crate::core::web::LocalResponse::plain(400, "invalid Host header");
    Decision::Respond { response, counter: Counter::DeniedBadRequest, log: None }
}

#[cfg(test)]
mod assertion_tests;
#[cfg(test)]
mod authz_tests;
#[cfg(test)]
mod backchannel_tests;
#[cfg(test)]
mod bearer_tests;
#[cfg(test)]
mod github_tests;
#[cfg(test)]
mod idp_quirks_tests;
#[cfg(test)]
mod refresh_tests;
#[cfg(test)]
mod step_up_tests;
#[cfg(test)]
mod tests;
