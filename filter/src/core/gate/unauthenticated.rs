//! What a request without a usable credential gets, by the kind of client that sent it:
//! a browser navigation is sent to log in; API calls, XHR and gRPC get 401 (or grpc-status
//! 16); a form post whose session lapsed gets a page.

use super::{bad_host, Counter, Decision, Denial, Gate, Io, Level, LogLine, Request, WaitFor};
use crate::core::authz::Rule;
use crate::core::config::LoginConfig;
use crate::core::login::{self, Ask, Start};
use crate::core::web::pages::Page;
use crate::core::web::path_rule::any_match;
use crate::core::web::safe_return;

/// Who is asking, as far as the request tells.
pub(super) enum Client {
    /// API paths, XHR/fetch, gRPC, or anything that is not a browser.
    Api,
    /// A browser sending something other than a GET or HEAD.
    BrowserForm,
    /// A browser navigating to a page.
    Navigation,
}

pub(super) fn client(req: &mut Request<'_>, login: &LoginConfig) -> Client {
    let api =
        req.is_grpc() || any_match(&login.api_paths, &req.path_and_query) || req.header("x-requested-with").is_some();
    let browser = match req.header("sec-fetch-mode").as_deref() {
        Some("navigate") => true,
        Some(_) => false,
        None => req.header("accept").is_some_and(|a| a.contains("text/html")),
    };
    if api || !browser {
        return Client::Api;
    }
    match req.header(":method").as_deref() {
        Some("GET" | "HEAD") => Client::Navigation,
        _ => Client::BrowserForm,
    }
}

impl Gate {
    pub(super) fn unauthenticated(
        &mut self,
        req: &mut Request<'_>,
        lapsed: bool,
        now_ms: u64,
        may_wait: bool,
        io: &mut Io<'_>,
    ) -> Decision {
        let config = self.config.clone();
        let Some(login) = &config.login else { return Decision::Deny(Denial::MissingToken) };
        match client(req, login) {
            Client::Api => Decision::Deny(Denial::MissingToken),
            Client::BrowserForm if lapsed => {
                let response = Page::SessionExpired.render(None, req.header("x-request-id").as_deref(), "/");
                Decision::Respond { response, counter: Counter::DeniedMissingToken, log: None }
            }
            Client::BrowserForm => Decision::Deny(Denial::MissingToken),
            Client::Navigation => {
                // A first login on a step-up route asks for it at once (no prompt=login).
                let rule = config.authz.rule_for(req.header(":method").as_deref(), req.path());
                let ask = Ask { step_up: rule.and_then(Rule::step_up), again: false };
                self.start_login(login, req, ask, (now_ms / 1000, may_wait), io)
            }
        }
    }

    /// Sends a browser to the IdP (`when`: now in seconds, and whether it may wait for the
    /// IdP's metadata).
    pub(super) fn start_login(
        &mut self,
        login: &LoginConfig,
        req: &mut Request<'_>,
        ask: Ask<'_>,
        when: (u64, bool),
        io: &mut Io<'_>,
    ) -> Decision {
        let (now_s, may_wait) = when;
        let Some(origin) = req.origin() else { return bad_host() };
        let Some(provider) = self.providers.first() else { return Decision::Deny(Denial::Unavailable) };
        let Some(metadata) = provider.metadata.as_ref() else {
            if may_wait && provider.worth_waiting() {
                return Decision::Wait { on: WaitFor::Provider(0), pending: None };
            }
            let rid = req.header("x-request-id");
            // "Start again" goes back to the page asked for, if that is a path on this site:
            // without merge_slashes, `//evil.example/` would otherwise be a link off-site.
            let restart = safe_return(&req.path_and_query, &[]);
            let response = Page::IdpUnreachable.render(None, rid.as_deref(), &restart);
            return Decision::Respond { response, counter: Counter::DeniedUnavailable, log: None };
        };
        let start = Start { origin: &origin, target: &req.path_and_query, cookie_header: req.cookie(), ask };
        match login::start(login, metadata, &start, now_s, io.rng) {
            Ok(response) => Decision::Respond { response, counter: Counter::LoginStarted, log: None },
            Err(e) => {
                let response = Page::LoginFailed.render(None, req.header("x-request-id").as_deref(), "/");
                let log = LogLine { level: Level::Warn, message: format!("login failed: {e}") };
                Decision::Respond { response, counter: Counter::LoginFailed, log: Some(log) }
            }
        }
    }
}
