//! The per-request context: asks the gate, has the decision carried out, and carries the
//! request's own callouts (a login's code exchange) to the gate and back.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType, LogLevel};
use std::cell::RefCell;
use std::rc::Rc;

use super::carry::{call_ended, carry, with_gate, Carried};
use super::host::{self, HostHeaders, HostRandom, Metrics};
use super::root::Worker;
use crate::core::gate::{Answer, Decision, Denial, Pending};
use crate::core::login::backchannel::MAX_BODY;

pub struct Http {
    pub id: u32,
    /// `None` when the plugin has no valid configuration: everything is refused.
    pub worker: Option<Rc<RefCell<Worker>>>,
    pub metrics: Rc<Metrics>,
    /// `Set-Cookie`s to add to the upstream's response (a re-issued session).
    pub set_cookies: Vec<String>,
    /// This request's own exchange with the IdP, waiting for its callout's answer.
    pub pending: Option<Pending>,
    /// A back-channel logout's body: being buffered, or answered already.
    pub body: Body,
}

/// Where a request's body stands (only a back-channel logout's is read).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// Passed on as it comes (or the request is answered already).
    Pass,
    /// Buffered until its end, then handed to the gate.
    Read,
    /// Answered: whatever still comes is held, never passed on.
    Held,
}

impl Http {
    /// Carries out a decision; returns whether the request continues to the upstream now.
    fn carry(
        &mut self,
        worker: &Rc<RefCell<Worker>>,
        decision: Decision,
        rng: &mut HostRandom,
        headers: &mut HostHeaders,
    ) -> bool {
        match carry(worker, &self.metrics, self.id, decision, rng, headers) {
            Carried::Continue(set_cookies) => {
                self.set_cookies = set_cookies;
                true
            }
            Carried::Calling(_, pending) => {
                self.pending = Some(pending);
                false
            }
            Carried::ReadBody => {
                self.body = Body::Read;
                false
            }
            Carried::Answered | Carried::Paused => false,
        }
    }

    /// Hands a back-channel logout's body to the gate (`None`: over the limit, unread).
    fn logout_body(&mut self, body: Option<&[u8]>) {
        self.body = Body::Held;
        let Some(worker) = self.worker.clone() else { return };
        let mut rng = HostRandom::default();
        let now = host::now_ms();
        let decision = with_gate(&worker, &self.metrics, &mut rng, |g, io| g.backchannel_logout(body, now, io))
            .unwrap_or(Decision::Deny(Denial::Unavailable));
        self.carry(&worker, decision, &mut rng, &mut HostHeaders::later());
    }
}

impl Context for Http {
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, body_size: usize, _trailers: usize) {
        let (status, body) = host::callout_response(body_size);
        let (Some(pending), Some(worker)) = (self.pending.take(), self.worker.clone()) else { return };
        call_ended(&worker);
        let mut rng = HostRandom::default();
        let now = host::now_ms();
        let answer = Answer { status, body: &body };
        let mut headers = HostHeaders::later();
        let decision =
            with_gate(&worker, &self.metrics, &mut rng, |g, io| g.resume(pending, answer, now, &mut headers, io))
                .unwrap_or(Decision::Deny(Denial::Unavailable));
        if self.carry(&worker, decision, &mut rng, &mut headers) {
            let _ = super::abi::resume_request();
        }
    }

    fn on_done(&mut self) -> bool {
        if let Some(worker) = self.worker.as_ref() {
            // Its callout, if still in flight, is cancelled with the request.
            if self.pending.take().is_some() {
                call_ended(worker);
            }
            if let Ok(mut w) = worker.try_borrow_mut() {
                w.paused.forget(self.id);
            }
        }
        true
    }
}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        #[cfg(feature = "step-probe")]
        if let Some(action) = super::step_probe::early() {
            return action;
        }
        let Some(worker) = self.worker.clone() else {
            host::log(LogLevel::Error, "oidc-gate: no valid configuration; refusing the request");
            host::send(&Denial::Unavailable.response("oidc-gate", None));
            return Action::Pause;
        };
        let mut rng = HostRandom::default();
        let now = host::now_ms();
        let mut headers = HostHeaders::new(!end_of_stream);
        let decision = with_gate(&worker, &self.metrics, &mut rng, |g, io| g.decide(&mut headers, now, true, io))
            .unwrap_or(Decision::Deny(Denial::Unavailable));
        #[cfg(feature = "step-decide")]
        if matches!(decision, Decision::Allow { .. }) {
            return Action::Continue;
        }
        if self.carry(&worker, decision, &mut rng, &mut headers) {
            Action::Continue
        } else if self.body == Body::Read {
            if end_of_stream {
                self.logout_body(Some(b""));
                return Action::Pause;
            }
            // Proxy-Wasm hands a body only to a filter that lets the headers go on
            // (proxy-wasm-cpp-host#143): they go on without anything that could pass for an
            // identity, the body is held here, and the answer is given at its end (Envoy
            // then resets the upstream request, which never saw the body).
            let headers = worker.try_borrow().map(|w| w.gate.config.identity.all_headers.clone()).unwrap_or_default();
            host::strip_for_body(&headers);
            Action::Continue
        } else {
            Action::Pause
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        match self.body {
            Body::Pass => return Action::Continue,
            Body::Held => return Action::Pause,
            Body::Read => {}
        }
        if body_size > MAX_BODY {
            // Refused at once, whatever is still to come: never buffered beyond the limit.
            self.logout_body(None);
        } else if end_of_stream {
            let body = super::abi::buffer(BufferType::HttpRequestBody, 0, body_size).unwrap_or_default();
            self.logout_body(Some(&body));
        }
        Action::Pause
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        // A body may end with trailers (HTTP/2, HTTP/1 with trailers on) instead of a last
        // chunk marked as its end: going on here would hand the buffered logout body to the
        // route, unauthenticated. It is taken as the body's end.
        match self.body {
            Body::Pass => Action::Continue,
            Body::Held => Action::Pause,
            Body::Read => {
                // One byte over the limit is read at most (the host reads no further than
                // the buffer holds): enough to tell a body over it.
                let body = super::abi::buffer(BufferType::HttpRequestBody, 0, MAX_BODY + 1).unwrap_or_default();
                self.logout_body(Some(&body).filter(|b| b.len() <= MAX_BODY).map(Vec::as_slice));
                Action::Pause
            }
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if self.body == Body::Read {
            // The route answered before the logout's body came (a direct_response route): the
            // logout cannot be taken now. The IdP is told so (503, to try again), never 200.
            self.body = Body::Held;
            host::log(
                LogLevel::Warn,
                "oidc-gate: back-channel logout: the route answered before the request body came (a direct_response \
                 route?); answered 503, the logout not taken",
            );
            host::set_response_header(":status", "503");
            host::set_response_header("retry-after", "5");
            host::set_response_header("cache-control", "no-store");
            return Action::Continue;
        }
        if self.set_cookies.is_empty() {
            // A request resumed by the root left its cookies with the worker.
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
        self.on_done();
    }
}
