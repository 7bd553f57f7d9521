//! The per-request context.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};
use std::cell::RefCell;
use std::rc::Rc;

use super::host::{self, Metrics};
use super::root::{Waiting, Worker};
use crate::core::config::Config;
use crate::core::gate::{Decision, RequestFacts};
use crate::core::response::{deny, Denial};

pub struct Http {
    pub id: u32,
    /// `None` when the plugin has no valid configuration: everything is refused.
    pub worker: Option<Rc<RefCell<Worker>>>,
    pub metrics: Rc<Metrics>,
    pub waiting: bool,
}

/// Carries out a decision on the current (effective) stream. Returns true when the
/// request may continue. Only an allowed request reaches the upstream, and it does so
/// with the identity headers replaced or removed: client-sent values never pass.
pub fn apply(decision: &Decision, config: &Config, metrics: &Metrics) -> bool {
    let realm = config.realm.as_str();
    match decision {
        Decision::Allow { headers, counter } => {
            host::set_identity_headers(&config.identity_headers, headers);
            metrics.inc(*counter);
            true
        }
        Decision::Deny(denial) => {
            metrics.inc(super::root::counter_for(*denial));
            host::send(&deny(*denial, realm));
            false
        }
        Decision::Wait { .. } => {
            metrics.inc(super::root::counter_for(Denial::Unavailable));
            host::send(&deny(Denial::Unavailable, realm));
            false
        }
    }
}

impl Context for Http {
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
        let facts = RequestFacts {
            path: host::request_header(":path").unwrap_or_default(),
            authorization: host::request_header("authorization"),
        };
        let now = host::now_ms();
        let metrics = self.metrics.clone();
        let decision = w.gate.decide(&facts, now, true, &mut |c| metrics.inc(c));
        if let Decision::Wait { provider } = decision {
            w.waiting.insert(self.id, Waiting { facts, provider, since_ms: now });
            self.waiting = true;
            return Action::Pause;
        }
        drop(w);
        if apply(&decision, &config, &self.metrics) {
            Action::Continue
        } else {
            Action::Pause
        }
    }

    fn on_log(&mut self) {
        self.forget();
    }
}
