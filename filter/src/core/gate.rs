//! The per-worker request decision: login endpoints, bypass, bearer token, session,
//! and what an unauthenticated request gets.

use std::rc::Rc;

use super::cache::{key_of, TokenCache, Verified};
use super::config::Config;
use super::cookies;
use super::identity::headers_for;
use super::jwt::{check_claims, decode, Expect, JwtError};
use super::login::{self, CallbackOutcome, Callout, Flow, Origin};
use super::logout::logout;
use super::metrics::Counter;
use super::pages::Page;
use super::provider::Provider;
use super::response::{Denial, LocalResponse};
use super::rules::{self, path_only};
use super::seal::Random;
use super::session::{self, SessionState};

/// Reads request headers on demand, so the hot path asks the host only for what it uses.
pub trait RequestHeaders {
    fn get(&mut self, name: &str) -> Option<String>;
}

/// What to do with the `Cookie` header sent upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieRewrite {
    Keep,
    Set(String),
    Remove,
}

/// What to do with a request.
#[derive(Debug)]
pub enum Decision {
    /// Let it through with these identity headers (and `Set-Cookie`s on the response).
    Allow {
        headers: Rc<[(String, String)]>,
        counter: Counter,
        cookie: CookieRewrite,
        set_cookies: Vec<String>,
    },
    Deny(Denial),
    /// Answer here: a redirect or a page.
    Respond {
        response: LocalResponse,
        counter: Counter,
        log: Option<String>,
    },
    /// The provider's keys or metadata are being fetched: pause, decide again later.
    Wait {
        provider: usize,
    },
    /// A login callback: exchange the code, then continue in `login::on_token_response`.
    Exchange(Box<Exchange>),
}

/// A code exchange in progress. `Debug` leaves out the cookies.
pub struct Exchange {
    pub flow: Flow,
    pub flow_cookie: String,
    pub callout: Callout,
    pub cookie_header: Option<String>,
    pub request_id: Option<String>,
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Exchange {{ {:?}, {:?}, request_id: {:?} }}", self.flow, self.callout, self.request_id)
    }
}

/// Extracts the token from `Authorization: Bearer <token>` (scheme case-insensitive).
pub fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(rest.trim_start())
}

/// `:authority` is echoed into the `redirect_uri`: only plain host[:port] characters.
fn clean_authority(a: &str) -> bool {
    !a.is_empty() && a.len() <= 255 && a.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
}

pub struct Gate {
    pub config: Rc<Config>,
    pub providers: Vec<Provider>,
    /// Verified bearer tokens.
    pub cache: TokenCache,
    /// Opened session cookies, keyed by their sealed value: a hit skips the AEAD and JSON.
    pub sessions: TokenCache,
    /// No identity headers (bypassed requests), shared rather than allocated each time.
    no_headers: Rc<[(String, String)]>,
}

impl Gate {
    pub fn new(config: Rc<Config>) -> Self {
        let providers = config.issuers.iter().cloned().map(Provider::new).collect();
        let cache = TokenCache::new(config.cache_size);
        let sessions = TokenCache::new(config.cache_size);
        Gate { config, providers, cache, sessions, no_headers: Rc::from(Vec::new()) }
    }

    /// Decides a request. `may_wait` is false when deciding again after a wait, so a
    /// request waits at most once.
    pub fn decide(
        &mut self,
        req: &mut dyn RequestHeaders,
        now_ms: u64,
        may_wait: bool,
        rng: &mut dyn Random,
        counters: &mut dyn FnMut(Counter),
    ) -> Decision {
        if now_ms == 0 {
            // No clock: nothing can be checked for expiry.
            return Decision::Deny(Denial::Unavailable);
        }
        let config = self.config.clone();
        let path_and_query = req.get(":path").unwrap_or_default();
        let path = path_only(&path_and_query);
        let now = now_ms / 1000;
        let cookie = if config.login.is_some() { req.get("cookie") } else { None };

        if let Some(login) = &config.login {
            if path == login.callback_path {
                return self.callback(req, &path_and_query, cookie, now);
            }
            if path == login.logout_path {
                if !super::logout::allowed(req.get("sec-fetch-site").as_deref()) {
                    let response = super::logout::confirm_page(login);
                    return Decision::Respond { response, counter: Counter::LogoutConfirmation, log: None };
                }
                let Some(origin) = origin(req) else { return bad_host() };
                let metadata = self.providers.first().and_then(|p| p.metadata.as_ref());
                let response = logout(login, metadata, origin.as_ref(), cookie.as_deref(), now);
                return Decision::Respond { response, counter: Counter::Logout, log: None };
            }
        }
        if rules::any_match(&config.bypass, &path_and_query) {
            return self.allow(self.no_headers.clone(), Counter::AllowedBypass, cookie.as_deref(), Vec::new());
        }
        if let Some(auth) = req.get("authorization") {
            if let Some(token) = bearer_token(Some(&auth)) {
                return match self.check_bearer(token, now_ms, may_wait, counters) {
                    Ok(headers) => self.allow(headers, Counter::AllowedBearer, cookie.as_deref(), Vec::new()),
                    Err(d) => d,
                };
            }
        }
        let Some(login) = &config.login else {
            return Decision::Deny(Denial::MissingToken);
        };
        let sealed = cookie.as_deref().and_then(|h| session::sealed_value(login, h));
        if let Some(hit) = sealed.as_deref().and_then(|v| self.sessions.get(v, now)) {
            if now < hit.refresh_at {
                return self.allow(hit.headers, Counter::AllowedSession, cookie.as_deref(), Vec::new());
            }
        }
        let lapsed = match session::read_sealed(login, sealed.as_deref(), now) {
            SessionState::Valid { session, reissue } => {
                let headers: Rc<[(String, String)]> = Rc::from(headers_for(&config.identity_headers, &session.claims));
                let mut set_cookies = Vec::new();
                if let (false, Some(v)) = (reissue, sealed) {
                    let entry = Verified {
                        exp: session::valid_until(login, &session),
                        refresh_at: session::refresh_at(login, &session),
                        headers: headers.clone(),
                    };
                    self.sessions.insert(key_of(&v), entry, now);
                }
                if reissue {
                    let mut renewed = session;
                    renewed.seen = now;
                    let present = session::present_names(login, cookie.as_deref());
                    set_cookies = session::write(login, &renewed, &present, rng).unwrap_or_default();
                }
                return self.allow(headers, Counter::AllowedSession, cookie.as_deref(), set_cookies);
            }
            SessionState::Absent => false,
            SessionState::Invalid => {
                counters(Counter::SessionInvalid);
                true
            }
            SessionState::Expired => {
                counters(Counter::SessionExpired);
                true
            }
        };
        self.unauthenticated(req, &path_and_query, cookie.as_deref(), lapsed, now, may_wait, rng)
    }

    fn allow(
        &self,
        headers: Rc<[(String, String)]>,
        counter: Counter,
        cookie: Option<&str>,
        set_cookies: Vec<String>,
    ) -> Decision {
        let rewrite = match (&self.config.login, cookie) {
            (Some(login), Some(h)) if cookies::parse(h).any(|(n, _)| login.owns_cookie(n)) => {
                match cookies::without(h, |n| login.owns_cookie(n)) {
                    Some(rest) => CookieRewrite::Set(rest),
                    None => CookieRewrite::Remove,
                }
            }
            _ => CookieRewrite::Keep,
        };
        Decision::Allow { headers, counter, cookie: rewrite, set_cookies }
    }

    #[allow(clippy::too_many_arguments)]
    fn unauthenticated(
        &mut self,
        req: &mut dyn RequestHeaders,
        path_and_query: &str,
        cookie: Option<&str>,
        lapsed: bool,
        now: u64,
        may_wait: bool,
        rng: &mut dyn Random,
    ) -> Decision {
        let config = self.config.clone();
        let Some(login) = &config.login else { return Decision::Deny(Denial::MissingToken) };
        let grpc = req.get("content-type").is_some_and(|c| c.starts_with("application/grpc"));
        let method = req.get(":method").unwrap_or_default();
        let api = grpc || rules::any_match(&login.api_paths, path_and_query) || req.get("x-requested-with").is_some();
        let browser = match req.get("sec-fetch-mode").as_deref() {
            Some("navigate") => true,
            Some(_) => false,
            None => req.get("accept").is_some_and(|a| a.contains("text/html")),
        };
        let navigation = matches!(method.as_str(), "GET" | "HEAD");
        if api || !browser {
            return Decision::Deny(Denial::MissingToken);
        }
        if !navigation {
            if lapsed {
                let response = Page::SessionExpired.render(None, req.get("x-request-id").as_deref(), "/");
                return Decision::Respond { response, counter: Counter::DeniedMissingToken, log: None };
            }
            return Decision::Deny(Denial::MissingToken);
        }
        let Some(origin) = origin(req) else { return bad_host() };
        let Some(provider) = self.providers.first() else { return Decision::Deny(Denial::Unavailable) };
        let Some(metadata) = provider.metadata.as_ref() else {
            if may_wait && provider.worth_waiting() {
                return Decision::Wait { provider: 0 };
            }
            let response = Page::IdpUnreachable.render(None, req.get("x-request-id").as_deref(), path_and_query);
            return Decision::Respond { response, counter: Counter::DeniedUnavailable, log: None };
        };
        match login::start(login, metadata, origin.as_ref(), path_and_query, cookie, now, rng) {
            Ok(response) => Decision::Respond { response, counter: Counter::LoginStarted, log: None },
            Err(e) => {
                let response = Page::LoginFailed.render(None, req.get("x-request-id").as_deref(), "/");
                Decision::Respond { response, counter: Counter::LoginFailed, log: Some(e.reason()) }
            }
        }
    }

    fn callback(
        &mut self,
        req: &mut dyn RequestHeaders,
        path_and_query: &str,
        cookie: Option<String>,
        now: u64,
    ) -> Decision {
        let config = self.config.clone();
        let Some(login) = &config.login else { return Decision::Deny(Denial::MissingToken) };
        let Some(origin) = origin(req) else { return bad_host() };
        let request_id = req.get("x-request-id");
        let Some(provider) = self.providers.first() else { return Decision::Deny(Denial::Unavailable) };
        // A callback never waits (its exchange must run in its own context): without keys
        // the person gets a page and starts again.
        if provider.keys.is_none() {
            let response = Page::IdpUnreachable.render(None, request_id.as_deref(), "/");
            return Decision::Respond { response, counter: Counter::LoginFailed, log: Some("no IdP keys yet".into()) };
        }
        let query = path_and_query.split_once('?').map_or("", |(_, q)| q);
        let callback_request = login::CallbackRequest {
            origin: origin.as_ref(),
            query,
            cookie_header: cookie.as_deref(),
            request_id: request_id.as_deref(),
            now,
        };
        match login::callback(&config, login, provider, &callback_request) {
            CallbackOutcome::Respond { response, reason } => {
                Decision::Respond { response, counter: Counter::LoginFailed, log: Some(reason) }
            }
            CallbackOutcome::Exchange { flow, flow_cookie, callout } => {
                Decision::Exchange(Box::new(Exchange { flow, flow_cookie, callout, cookie_header: cookie, request_id }))
            }
        }
    }

    fn check_bearer(
        &mut self,
        token: &str,
        now_ms: u64,
        may_wait: bool,
        counters: &mut dyn FnMut(Counter),
    ) -> Result<Rc<[(String, String)]>, Decision> {
        let now = now_ms / 1000;
        if let Some(hit) = self.cache.get(token, now) {
            counters(Counter::CacheHit);
            return Ok(hit.headers);
        }
        counters(Counter::CacheMiss);
        let invalid = |e: JwtError| Decision::Deny(Denial::InvalidToken(e));
        let untrusted = decode(token, self.config.algorithms).map_err(invalid)?;
        // ID tokens prove a login to this client; they are no API credential, and one
        // that leaked (an `id_token_hint` in a logout URL, say) must not open the API.
        if untrusted.claims.contains_key("nonce") {
            return Err(invalid(JwtError::IdTokenAsBearer));
        }
        let idx = untrusted
            .stated_issuer()
            .and_then(|iss| self.providers.iter().position(|p| p.issuer() == iss))
            .ok_or(invalid(JwtError::UnknownIssuer))?;
        let min_refetch_ms = self.config.jwks_refetch_min_interval.as_millis() as u64;
        let provider = self.providers.get_mut(idx).ok_or(invalid(JwtError::UnknownIssuer))?;
        let Some(keys) = provider.keys.clone() else {
            return Err(if may_wait && provider.worth_waiting() {
                Decision::Wait { provider: idx }
            } else {
                Decision::Deny(Denial::Unavailable)
            });
        };
        match untrusted.verify_signature(&keys) {
            Ok(()) => {}
            Err(JwtError::UnknownKey) if may_wait && provider.request_refetch(now_ms, min_refetch_ms) => {
                return Err(Decision::Wait { provider: idx });
            }
            Err(e) => return Err(invalid(e)),
        }
        let expect = Expect {
            issuer: &provider.config.issuer,
            audiences: &provider.config.audiences,
            now,
            skew: self.config.clock_skew,
        };
        let exp = check_claims(&untrusted.claims, &expect).map_err(invalid)?;
        let headers: Rc<[(String, String)]> = Rc::from(headers_for(&self.config.identity_headers, &untrusted.claims));
        self.cache.insert(key_of(token), Verified { exp, refresh_at: u64::MAX, headers: headers.clone() }, now);
        Ok(headers)
    }
}

/// The request's scheme and authority, owned.
pub struct OwnedOrigin {
    scheme: String,
    authority: String,
}

impl OwnedOrigin {
    fn as_ref(&self) -> Origin<'_> {
        Origin { scheme: &self.scheme, authority: &self.authority }
    }
}

fn origin(req: &mut dyn RequestHeaders) -> Option<OwnedOrigin> {
    let authority = req.get(":authority").filter(|a| clean_authority(a))?;
    let scheme = match req.get(":scheme").as_deref() {
        Some("https") => "https",
        _ => "http",
    };
    Some(OwnedOrigin { scheme: scheme.to_string(), authority: authority.to_ascii_lowercase() })
}

fn bad_host() -> Decision {
    let response = LocalResponse {
        status: 400,
        headers: vec![("content-type", "text/plain".to_string())],
        body: "invalid Host header\n".to_string(),
    };
    Decision::Respond { response, counter: Counter::DeniedMissingToken, log: None }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
