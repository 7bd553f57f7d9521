//! The per-request context.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};
use std::cell::RefCell;
use std::rc::Rc;

use super::host::{self, HostHeaders, HostRandom, Metrics};
use super::login_flow::LoginStep;
use super::root::{Waiting, Worker};
use crate::core::config::Config;
use crate::core::gate::Decision;
use crate::core::response::{deny, Denial};

pub struct Http {
    pub id: u32,
    /// `None` when the plugin has no valid configuration: everything is refused.
    pub worker: Option<Rc<RefCell<Worker>>>,
    pub metrics: Rc<Metrics>,
    pub waiting: bool,
    /// `Set-Cookie`s to add to the upstream's response (session re-issue).
    pub set_cookies: Vec<String>,
    pub login: Option<LoginStep>,
}

/// What [`apply`] did.
pub enum Applied {
    /// Continue to the upstream, adding these `Set-Cookie`s to its response.
    Continue(Vec<String>),
    /// Answered locally.
    Answered,
    /// The decision needs the calling context (a login callback).
    Exchange(Box<crate::core::gate::Exchange>),
}

/// Carries out a decision on the current (effective) stream. Only an allowed request
/// reaches the upstream, and it does so with the identity headers replaced or removed:
/// client-sent values never pass.
pub fn apply(decision: Decision, config: &Config, metrics: &Metrics, rng: &HostRandom) -> Applied {
    if rng.failed {
        host::log(LogLevel::Critical, "oidc-gate: the random source failed; refusing the request");
        host::send(&deny(Denial::Unavailable, &config.realm));
        return Applied::Answered;
    }
    match decision {
        Decision::Allow { headers, counter, cookie, set_cookies } => {
            host::set_identity_headers(&config.identity_headers, &headers);
            host::rewrite_cookie(&cookie);
            metrics.inc(counter);
            Applied::Continue(set_cookies)
        }
        Decision::Deny(denial) => {
            metrics.inc(denial.counter());
            host::send(&deny(denial, &config.realm));
            Applied::Answered
        }
        Decision::Respond { response, counter, log } => {
            metrics.inc(counter);
            if let Some(reason) = log {
                host::log(LogLevel::Info, &format!("oidc-gate: {}: {reason}", counter.name()));
            }
            host::send(&response);
            Applied::Answered
        }
        Decision::Wait { .. } => {
            metrics.inc(Denial::Unavailable.counter());
            host::send(&deny(Denial::Unavailable, &config.realm));
            Applied::Answered
        }
        Decision::Exchange(exchange) => Applied::Exchange(exchange),
    }
}

impl Context for Http {
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, body_size: usize, _trailers: usize) {
        let (status, body) = host::callout_response(body_size);
        if let (Some(step), Some(worker)) = (self.login.take(), self.worker.clone()) {
            self.login = super::login_flow::advance(step, &worker, &self.metrics, status, &body);
        }
    }

    fn on_done(&mut self) -> bool {
        self.forget();
        true
    }
}

impl Http {
    fn forget(&mut self) {
        if self.waiting {
            if let Some(Ok(mut w)) = self.worker.as_ref().map(|w| w.try_borrow_mut()) {
                w.waiting.remove(&self.id);
                w.set_cookies.remove(&self.id);
            }
            self.waiting = false;
        }
    }
}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(worker) = self.worker.clone() else {
            host::log(LogLevel::Error, "oidc-gate: no valid configuration; refusing the request");
            host::send(&deny(Denial::Unavailable, "oidc-gate"));
            return Action::Pause;
        };
        let Ok(mut w) = worker.try_borrow_mut() else {
            host::send(&deny(Denial::Unavailable, "oidc-gate"));
            return Action::Pause;
        };
        let config = w.gate.config.clone();
        let metrics = self.metrics.clone();
        let mut rng = HostRandom::default();
        let now = host::now_ms();
        let decision = w.gate.decide(&mut HostHeaders, now, true, &mut rng, &mut |c| metrics.inc(c));
        if let Decision::Wait { provider } = decision {
            w.waiting.insert(self.id, Waiting { provider, since_ms: now });
            self.waiting = true;
            return Action::Pause;
        }
        drop(w);
        match apply(decision, &config, &self.metrics, &rng) {
            Applied::Continue(set_cookies) => {
                self.set_cookies = set_cookies;
                Action::Continue
            }
            Applied::Answered => Action::Pause,
            Applied::Exchange(exchange) => {
                self.login = super::login_flow::begin(*exchange, &config, &self.metrics);
                Action::Pause
            }
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if self.waiting {
            let resumed = self.worker.as_ref().and_then(|w| w.try_borrow_mut().ok()?.set_cookies.remove(&self.id));
            if let Some(c) = resumed {
                self.set_cookies = c;
            }
        }
        if !self.set_cookies.is_empty() {
            host::add_response_headers("set-cookie", &self.set_cookies);
            // A response carrying one user's session must never be stored by a shared cache.
            host::set_response_header("cache-control", "no-store");
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        self.forget();
    }
}
