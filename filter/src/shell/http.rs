//! The per-request context: asks the gate, carries out its decision, and carries the
//! request's own callouts (a login's code exchange) to the gate and back.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};
use std::cell::RefCell;
use std::rc::Rc;

use super::host::{self, HostHeaders, HostRandom, Metrics};
use super::root::Worker;
use crate::core::config::Config;
use crate::core::gate::{Decision, Denial, Pending};
use crate::core::idp::Callout;

pub struct Http {
    pub id: u32,
    /// `None` when the plugin has no valid configuration: everything is refused.
    pub worker: Option<Rc<RefCell<Worker>>>,
    pub metrics: Rc<Metrics>,
    /// Paused in the worker's [`super::paused::Paused`], to be forgotten at the end.
    pub paused: bool,
    /// `Set-Cookie`s to add to the upstream's response (a re-issued session).
    pub set_cookies: Vec<String>,
    /// This request's own exchange with the IdP, waiting for its callout's answer.
    pub pending: Option<Pending>,
}

/// What [`apply`] did.
pub enum Applied {
    /// Continue to the upstream, adding these `Set-Cookie`s to its response.
    Continue(Vec<String>),
    /// Answered locally.
    Answered,
    /// The request needs this callout, then `Gate::resume` with its answer.
    Call(Callout, Pending),
}

/// Carries out a decision on the current (effective) stream. Only an allowed request
/// reaches the upstream, and it does so with the identity headers replaced or removed:
/// client-sent values never pass.
pub fn apply(decision: Decision, config: &Config, metrics: &Metrics, rng: &HostRandom) -> Applied {
    if rng.failed {
        host::log(LogLevel::Critical, "oidc-gate: the random source failed; refusing the request");
        host::send(&Denial::Unavailable.response(&config.realm));
        return Applied::Answered;
    }
    match decision {
        Decision::Allow { identity, counter, cookie, set_cookies } => {
            if let Err(e) = host::set_identity_headers(&config.identity.all_headers, &identity) {
                host::log(LogLevel::Error, &format!("oidc-gate: cannot set the identity headers ({e:?}); refusing"));
                metrics.inc(Denial::Unavailable.counter());
                host::send(&Denial::Unavailable.response(&config.realm));
                return Applied::Answered;
            }
            host::rewrite_cookie(&cookie);
            metrics.inc(counter);
            Applied::Continue(set_cookies)
        }
        Decision::Deny(denial) => {
            metrics.inc(denial.counter());
            host::send(&denial.response(&config.realm));
            Applied::Answered
        }
        Decision::Respond { response, counter, log } => {
            metrics.inc(counter);
            if let Some(line) = log {
                host::log_at(line.level, &format!("oidc-gate: {}", line.message));
            }
            host::send(&response);
            Applied::Answered
        }
        Decision::Wait(_) => {
            // Only a first decision may wait; a request decided again after waiting never does.
            metrics.inc(Denial::Unavailable.counter());
            host::send(&Denial::Unavailable.response(&config.realm));
            Applied::Answered
        }
        Decision::Call { callout, pending } => Applied::Call(callout, pending),
    }
}

impl Http {
    /// Carries out `decision` for this request, starting its callout when it asks for one.
    /// Returns whether the request continues to the upstream now.
    fn carry(&mut self, worker: &Rc<RefCell<Worker>>, decision: Decision, rng: &mut HostRandom) -> bool {
        let Some(config) = worker.try_borrow().ok().map(|w| w.gate.config.clone()) else { return false };
        let mut decision = decision;
        loop {
            match apply(decision, &config, &self.metrics, rng) {
                Applied::Continue(set_cookies) => {
                    self.set_cookies = set_cookies;
                    return true;
                }
                Applied::Answered => return false,
                Applied::Call(callout, pending) => match host::dispatch(&callout, config.idp_timeout) {
                    Ok(_) => {
                        self.pending = Some(pending);
                        return false;
                    }
                    Err(e) => {
                        host::log(LogLevel::Error, &format!("oidc-gate: {e}"));
                        let Ok(mut w) = worker.try_borrow_mut() else { return false };
                        decision = w.gate.resume(pending, None, b"", host::now_ms(), rng);
                    }
                },
            }
        }
    }

    fn forget(&mut self) {
        if self.paused {
            if let Some(Ok(mut w)) = self.worker.as_ref().map(|w| w.try_borrow_mut()) {
                w.paused.forget(self.id);
            }
            self.paused = false;
        }
    }
}

impl Context for Http {
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, body_size: usize, _trailers: usize) {
        let (status, body) = host::callout_response(body_size);
        let (Some(pending), Some(worker)) = (self.pending.take(), self.worker.clone()) else { return };
        let mut rng = HostRandom::default();
        let decision = match worker.try_borrow_mut() {
            Ok(mut w) => w.gate.resume(pending, status, &body, host::now_ms(), &mut rng),
            Err(_) => Decision::Deny(Denial::Unavailable),
        };
        if self.carry(&worker, decision, &mut rng) {
            let _ = super::abi::resume_request();
        }
    }

    fn on_done(&mut self) -> bool {
        self.forget();
        true
    }
}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(worker) = self.worker.clone() else {
            host::log(LogLevel::Error, "oidc-gate: no valid configuration; refusing the request");
            host::send(&Denial::Unavailable.response("oidc-gate"));
            return Action::Pause;
        };
        let metrics = self.metrics.clone();
        let mut rng = HostRandom::default();
        let now_ms = host::now_ms();
        let decision = match worker.try_borrow_mut() {
            Ok(mut w) => {
                let decision = w.gate.decide(&mut HostHeaders, now_ms, true, &mut rng, &mut |c| metrics.inc(c));
                if let Decision::Wait(on) = decision {
                    w.paused.pause(self.id, on, now_ms);
                    self.paused = true;
                    return Action::Pause;
                }
                decision
            }
            Err(_) => Decision::Deny(Denial::Unavailable),
        };
        if self.carry(&worker, decision, &mut rng) {
            Action::Continue
        } else {
            Action::Pause
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if self.paused {
            let resumed = self.worker.as_ref().and_then(|w| w.try_borrow_mut().ok()?.paused.take_cookies(self.id));
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
