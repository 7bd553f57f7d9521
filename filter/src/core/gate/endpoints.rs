//! The filter's own endpoints: the login callback (a state machine whose callouts the
//! shell carries, resumed by [`Gate::resume`]) and logout.

use super::{bad_host, Counter, Decision, Denial, Gate, Level, LogLine, Pending, Request};
use crate::core::config::LoginConfig;
use crate::core::login::callback::LoginContext;
use crate::core::login::{logout, Callback, CallbackRequest, Step};
use crate::core::rand::Random;
use crate::core::web::pages;

impl Gate {
    /// The callback or logout endpoint, when the request is for one.
    pub(super) fn endpoint(&mut self, login: &LoginConfig, req: &mut Request<'_>, now_ms: u64) -> Option<Decision> {
        let now_s = now_ms / 1000;
        if req.path() == login.callback_path {
            return Some(self.callback(login, req, now_s));
        }
        if req.path() != login.logout_path {
            return None;
        }
        if !logout::allowed(req.header("sec-fetch-site").as_deref()) {
            let response = pages::logout_confirmation(&login.logout_path);
            return Some(Decision::Respond { response, counter: Counter::LogoutConfirmation, log: None });
        }
        let Some(origin) = req.origin() else { return Some(bad_host()) };
        let metadata = self.providers.first().and_then(|p| p.metadata.as_ref());
        let response = logout::logout(login, metadata, &origin, req.cookie.as_deref(), now_s);
        Some(Decision::Respond { response, counter: Counter::Logout, log: None })
    }

    fn callback(&mut self, login: &LoginConfig, req: &mut Request<'_>, now_s: u64) -> Decision {
        let Some(origin) = req.origin() else { return bad_host() };
        let request_id = req.header("x-request-id");
        let config = self.config.clone();
        let Some(provider) = self.providers.first() else { return Decision::Deny(Denial::Unavailable) };
        let ctx = LoginContext { config: &config, login, provider };
        let callback = CallbackRequest {
            origin: &origin,
            query: req.query(),
            cookie_header: req.cookie.as_deref(),
            request_id: request_id.as_deref(),
            now_s,
        };
        login_step(Callback::begin(&ctx, &callback))
    }

    /// Takes the answer to a request's own callout (`status` is `None` when there was
    /// none) and decides what comes next.
    pub fn resume(
        &mut self,
        pending: Pending,
        status: Option<u16>,
        body: &[u8],
        now_ms: u64,
        rng: &mut dyn Random,
    ) -> Decision {
        let config = self.config.clone();
        match pending {
            Pending::Login(callback) => {
                let (Some(login), Some(provider)) = (&config.login, self.providers.first()) else {
                    return Decision::Deny(Denial::Unavailable);
                };
                let ctx = LoginContext { config: &config, login, provider };
                let step = callback.on_response(&ctx, status, body, now_ms / 1000, rng);
                if Callback::unknown_key(&step) {
                    // The IdP rotated its keys: fetch them so that the next attempt succeeds.
                    if let Some(p) = self.providers.first_mut() {
                        p.request_refetch(now_ms, config.jwks_refetch_min_interval);
                    }
                }
                login_step(step)
            }
        }
    }
}

fn login_step(step: Step) -> Decision {
    match step {
        Step::Call(callback, callout) => Decision::Call { callout, pending: Pending::Login(callback) },
        Step::Done(response) => Decision::Respond { response, counter: Counter::LoginCompleted, log: None },
        Step::Failed(response, error) => {
            let log = LogLine { level: Level::Warn, message: format!("login failed: {error}") };
            Decision::Respond { response, counter: Counter::LoginFailed, log: Some(log) }
        }
    }
}
