//! The filter's own endpoints: the login callback (a state machine whose callouts the
//! shell carries, resumed by [`Gate::resume`]) and logout; the documents served to anyone
//! (protected-resource metadata, the assertion's JWKS).

use super::{bad_host, Counter, Decision, Denial, Gate, Level, LogLine, Pending, Request, WaitFor};
use crate::core::assertion::JWKS_PATH;
use crate::core::config::LoginConfig;
use crate::core::login::callback::LoginContext;
use crate::core::login::{logout, Callback, CallbackRequest, LoginError, Step};
use crate::core::rand::Random;
use crate::core::token::JwtError;
use crate::core::web::pages;

impl Gate {
    /// The protected-resource metadata (RFC 9728), served to anyone.
    pub(super) fn metadata_endpoint(&self, req: &Request<'_>) -> Option<Decision> {
        if let Some(assertion) = self.config.assertion.as_ref().filter(|_| req.path() == JWKS_PATH) {
            return Some(Decision::Respond {
                response: assertion.jwks_response(),
                counter: Counter::AssertionJwks,
                log: None,
            });
        }
        let response = self.config.resource_metadata.as_ref()?.serve(req.path())?;
        Some(Decision::Respond { response, counter: Counter::ResourceMetadata, log: None })
    }

    /// The callback or logout endpoint, when the request is for one.
    pub(super) fn endpoint(
        &mut self,
        login: &LoginConfig,
        req: &mut Request<'_>,
        now_ms: u64,
        may_wait: bool,
        rng: &mut dyn Random,
    ) -> Option<Decision> {
        let now_s = now_ms / 1000;
        if req.path() == login.callback_path {
            return Some(self.callback(login, req, now_ms, may_wait, rng));
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
        let response = logout::logout(login, metadata, &origin, req.cookie(), now_s);
        Some(Decision::Respond { response, counter: Counter::Logout, log: None })
    }

    fn callback(
        &mut self,
        login: &LoginConfig,
        req: &mut Request<'_>,
        now_ms: u64,
        may_wait: bool,
        rng: &mut dyn Random,
    ) -> Decision {
        let Some(origin) = req.origin() else { return bad_host() };
        let request_id = req.header("x-request-id");
        let config = self.config.clone();
        let Some(provider) = self.providers.first() else { return Decision::Deny(Denial::Unavailable) };
        let ctx = LoginContext { config: &config, login, provider };
        let callback = CallbackRequest {
            origin: &origin,
            query: req.query(),
            cookie_header: req.cookie(),
            request_id: request_id.as_deref(),
            now_s: now_ms / 1000,
        };
        let step = Callback::begin(&ctx, &callback, rng);
        self.login_step(step, may_wait, request_id.as_deref())
    }

    /// A login step as a decision. Keys the login needs are waited for: before the
    /// exchange, like any request (bounded by `startup_wait`); for the ID token, after
    /// a re-fetch that the rate limit does not hold back (the token came over the back
    /// channel from the token endpoint, not from a client).
    pub(super) fn login_step(&mut self, step: Step, may_wait: bool, request_id: Option<&str>) -> Decision {
        let provider = self.providers.first_mut();
        let step = match step {
            Step::NeedKeys(None) => match provider {
                Some(p) if may_wait && p.worth_waiting() => {
                    return Decision::Wait { on: WaitFor::Provider(0), pending: None };
                }
                _ => Callback::without_keys(request_id),
            },
            Step::NeedKeys(Some(callback)) => {
                if provider.is_some_and(|p| p.request_refetch_now()) {
                    return Decision::Wait { on: WaitFor::Provider(0), pending: Some(Pending::Login(callback)) };
                }
                callback.fail(LoginError::IdToken(JwtError::UnknownKey))
            }
            other => other,
        };
        match step {
            Step::Call(callback, callout) => Decision::Call { callout, pending: Pending::Login(callback) },
            Step::Done(response) => Decision::Respond { response, counter: Counter::LoginCompleted, log: None },
            Step::Failed(response, error) => {
                let log = LogLine { level: Level::Warn, message: format!("login failed: {error}") };
                Decision::Respond { response, counter: Counter::LoginFailed, log: Some(log) }
            }
            Step::NeedKeys(_) => Decision::Deny(Denial::Unavailable),
        }
    }
}
