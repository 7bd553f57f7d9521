//! Renewing a session's access token inline (`session.refresh`): the request waits for
//! the refresh grant and goes on with the renewed session, whose cookie its response
//! carries. One refresh per stale session per Envoy: the first request claims the
//! refresh token's shared slot, the others (on any worker) wait for its outcome and use
//! it, so an IdP that rotates refresh tokens never sees the old one twice from this Envoy.
//! `invalid_grant` ends the session; an IdP that is down or slow never does: the request
//! is served from the session and the refresh retried later, with a back-off.

use std::rc::Rc;
use std::time::Duration;

use super::session::Opened;
use super::{Counter, Credential, Decision, Gate, Io, Level, LogLine, Pending, Request, RequestHeaders, WaitFor};
use crate::core::config::LoginConfig;
use crate::core::identity::overage;
use crate::core::idp::client::Signer;
use crate::core::idp::token_endpoint::{self, TokenEndpointError, TokenRequest};
use crate::core::login::callback::LoginContext;
use crate::core::login::id_token::refreshed_claims;
use crate::core::session::refresh::{self as renewal, id_of};
use crate::core::session::{self, Session};
use crate::core::shared::flight::{Flight, Id, Seen};
use crate::core::web::AbsoluteUrl;

const KIND: &str = "refresh";
/// How long a renewed session stays in the shared slot for requests still carrying the
/// old cookie (those in flight when the new one was set).
const KEEP_OUTCOME: Duration = Duration::from_secs(60);
/// Back-off after failed refreshes: 2 s, 4 s, ... up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// A refresh under way for a request.
#[derive(Debug)]
pub struct RefreshCall {
    id: Id,
    /// The shared slot this request claimed (others wait on it), if any.
    claimed: Option<String>,
    failures: u32,
    session: Session,
}

impl RefreshCall {
    /// The shared slot this call claimed, and the subject's id.
    pub(super) fn claimed(&self) -> Option<(&str, Id)> {
        self.claimed.as_deref().map(|k| (k, self.id))
    }
}

impl Gate {
    pub(super) fn refresh(
        &mut self,
        login: &LoginConfig,
        req: &Request<'_>,
        session: Session,
        now_ms: u64,
        may_wait: bool,
        io: &mut Io<'_>,
    ) -> Credential {
        let now_s = now_ms / 1000;
        let Some(token) = session.refresh_token.clone() else {
            return self.serve(login, req, Opened { session, reissue: false, sealed: None }, now_s, io);
        };
        let id = id_of(&token);
        let mut flight = Flight::new(io.shared, KIND, id);
        let seen = flight.look(now_ms);
        let key = flight.key().to_string();
        let (claimed, failures) = match seen {
            Seen::Done { outcome, cas } => match renewal::open(&login.session, &id, &outcome) {
                // Renewed by another request (or an earlier refresh of a token that did not
                // rotate): use it, unless it is no newer than what this request carries.
                Some(renewed) if renewed.renewals > session.renewals && renewal::same_login(&renewed, &session) => {
                    return self.renewed(login, req, renewed, now_s, io);
                }
                _ if flight.claim(cas, now_ms, self.config.idp_timeout + Duration::from_secs(2)) => (Some(key), 0),
                _ => return self.serve(login, req, Opened { session, reissue: false, sealed: None }, now_s, io),
            },
            Seen::Dead => return Credential::Ended,
            Seen::Busy if may_wait => {
                let on = WaitFor::Flight(Rc::from(flight.key()));
                return Credential::Decided(Decision::Wait { on, pending: None });
            }
            // Every slot in reach is in use by other sessions: no refresh without
            // coordination (a rotating IdP would see one token twice); renewed later.
            Seen::Failed { .. } | Seen::Busy | Seen::Taken => {
                return self.serve(login, req, Opened { session, reissue: false, sealed: None }, now_s, io);
            }
            Seen::Free { cas, failures } => {
                if !flight.claim(cas, now_ms, self.config.idp_timeout + Duration::from_secs(2)) {
                    let on = WaitFor::Flight(Rc::from(key.as_str()));
                    return match may_wait {
                        true => Credential::Decided(Decision::Wait { on, pending: None }),
                        false => self.serve(login, req, Opened { session, reissue: false, sealed: None }, now_s, io),
                    };
                }
                (Some(key), failures)
            }
        };
        let endpoint = self.providers.first().and_then(|p| p.metadata.as_ref()?.token_endpoint.clone());
        let url = endpoint.and_then(|u| AbsoluteUrl::parse(&u).ok());
        let callout = url.and_then(|url| {
            let at = TokenRequest { client: &self.config.client, url: &url, clusters: &self.config.clusters };
            at.refresh(&token, Signer { now_s, rng: io.rng }).ok()
        });
        let Some(callout) = callout else {
            // The IdP's metadata is not loaded (or the client assertion could not be
            // signed): serve from the session, renew later.
            if let Some(key) = &claimed {
                Flight::at(io.shared, key, id).failed(now_ms.saturating_add(backoff(failures)), failures + 1);
            }
            return self.serve(login, req, Opened { session, reissue: false, sealed: None }, now_s, io);
        };
        let pending = Pending::Refresh(Box::new(RefreshCall { id, claimed, failures, session }));
        Credential::Decided(Decision::Call { callout, pending })
    }

    /// The request goes on with a renewed session, its cookie on the response, unless a
    /// back-channel logout ended the session meanwhile (while its grant was under way).
    fn renewed(
        &mut self,
        login: &LoginConfig,
        req: &Request<'_>,
        renewed: Session,
        now_s: u64,
        io: &mut Io<'_>,
    ) -> Credential {
        if let Some(bc) = &login.backchannel {
            self.revocations.sync(io.shared, &bc.keys);
            if self.revoked(login, &renewed, now_s) {
                return super::session::revoked(io);
            }
        }
        let mut opened = Opened { session: renewed, reissue: true, sealed: None };
        opened.session.seen = now_s;
        self.serve(login, req, opened, now_s, io)
    }

    /// Takes the token endpoint's answer to a refresh.
    pub(super) fn refresh_answered(
        &mut self,
        call: RefreshCall,
        status: Option<u16>,
        body: &[u8],
        now_ms: u64,
        headers: &mut dyn RequestHeaders,
        io: &mut Io<'_>,
    ) -> Decision {
        let now_s = now_ms / 1000;
        let config = self.config.clone();
        let Some(login) = &config.login else { return Decision::Deny(super::Denial::Unavailable) };
        let mut req = Request::read(headers, true);
        let credential = match self.renewal(login, &call, status, body, now_s, io) {
            Ok(renewed) => {
                if let Some(key) = &call.claimed {
                    if let Some(sealed) = renewal::seal(&login.session, &call.id, &renewed, io.rng) {
                        // Shared while its access token lasts, and not longer than KEEP_OUTCOME.
                        let lasts_ms = renewed.access_exp.map_or(u64::MAX, |e| e.saturating_mul(1000));
                        let keep = now_ms.saturating_add(ms(KEEP_OUTCOME)).min(lasts_ms);
                        Flight::at(io.shared, key, call.id).done(&sealed, keep);
                    }
                }
                (io.count)(Counter::SessionRefreshed);
                self.renewed(login, &req, renewed, now_s, io)
            }
            Err(Some(reason)) => {
                if let Some(key) = &call.claimed {
                    Flight::at(io.shared, key, call.id).dead(now_ms.saturating_add(ms(KEEP_OUTCOME)));
                }
                (io.log)(LogLine { level: Level::Info, message: format!("session ended: {reason}") });
                (io.count)(Counter::SessionEnded);
                Credential::Ended
            }
            Err(None) => {
                if let Some(key) = &call.claimed {
                    let retry_at = now_ms.saturating_add(backoff(call.failures));
                    Flight::at(io.shared, key, call.id).failed(retry_at, call.failures + 1);
                }
                (io.count)(Counter::SessionRefreshFailed);
                self.serve(login, &req, Opened { session: call.session, reissue: false, sealed: None }, now_s, io)
            }
        };
        // Judged like any credential: the rules hold for a renewed session too.
        self.judge(&mut req, credential, now_ms, false, io)
    }

    /// The renewed session; `Err(Some(why))` when the IdP refused the grant for good
    /// (`invalid_grant`), `Err(None)` when it could not answer or answered wrongly.
    fn renewal(
        &mut self,
        login: &LoginConfig,
        call: &RefreshCall,
        status: Option<u16>,
        body: &[u8],
        now_s: u64,
        io: &mut Io<'_>,
    ) -> Result<Session, Option<String>> {
        let tokens = match token_endpoint::parse(status, body) {
            Ok(tokens) => tokens,
            // GitHub's word for it is `bad_refresh_token` (in a 200).
            Err(TokenEndpointError::Refused { error: Some(e), .. })
                if e == "invalid_grant" || e == "bad_refresh_token" =>
            {
                return Err(Some("the IdP refused its refresh token (invalid_grant)".into()));
            }
            Err(e) => {
                (io.log)(LogLine {
                    level: Level::Warn,
                    message: format!("session refresh failed: {e:?}; retried later"),
                });
                return Err(None);
            }
        };
        let id_claims = match (&tokens.id_token, self.providers.first()) {
            (None, _) => None,
            (Some(id_token), Some(provider)) => {
                let ctx = LoginContext { config: &self.config, login, provider };
                match refreshed_claims(&ctx, id_token, &call.session.sub, now_s) {
                    Ok(claims) => Some(self.config.identity.kept_claims(&claims)),
                    Err(e) => {
                        (io.log)(LogLine { level: Level::Warn, message: format!("session refresh refused: {e}") });
                        return Err(None);
                    }
                }
            }
            (Some(_), None) => return Err(None),
        };
        let keep_id = login.session.keep_id_token;
        let mut renewed =
            renewal::renewed(&call.session, &tokens, id_claims.clone(), login.forward_access_token, keep_id, now_s);
        if let Some(new) = &id_claims {
            overage::after_refresh(&mut renewed.claims, new, &self.config.authz.groups_claim);
        }
        Ok(renewed)
    }

    /// A session the IdP ended: its cookies are cleared, and the request gets what a
    /// request without credentials gets (a login for a page, 401 for an API).
    /// The `Set-Cookie`s that delete the session cookies this request carries.
    pub(super) fn clearing(&self, req: &Request<'_>) -> Vec<String> {
        match &self.config.login {
            Some(login) => {
                let names = login.session.cookies.sessions_in(req.cookie());
                names.iter().map(|n| crate::core::web::cookies::clear_cookie(n, &session::cookie::ATTRS)).collect()
            }
            None => Vec::new(),
        }
    }

    pub(super) fn ended(&mut self, req: &mut Request<'_>, now_ms: u64, io: &mut Io<'_>) -> Decision {
        let config = self.config.clone();
        let clear = self.clearing(req);
        req.forget_cookie(); // no session any more: a new login starts from nothing
        match self.unauthenticated(req, true, now_ms, false, io) {
            Decision::Deny(denial) => {
                let response = denial.response_for(&config).with_cookies(clear);
                Decision::Respond { response, counter: denial.counter(), log: None }
            }
            Decision::Respond { response, counter, log } => {
                Decision::Respond { response: response.with_cookies(clear), counter, log }
            }
            other => other,
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// 2 s after the first failure, doubling, at most [`MAX_BACKOFF`].
fn backoff(failures: u32) -> u64 {
    2000u64.saturating_mul(1 << failures.min(10)).min(ms(MAX_BACKOFF))
}
