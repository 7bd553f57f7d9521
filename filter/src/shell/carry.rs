//! Carrying out the gate's decisions, in one place for the request's own context and for
//! the root (which decides paused requests again and carries the callouts it starts for
//! them). Only an allowed request reaches the upstream, and it does so with the identity
//! headers replaced or removed: client-sent values never pass.

use proxy_wasm::types::LogLevel;
use std::cell::RefCell;
use std::rc::Rc;

use super::host::{self, HostHeaders, HostRandom, HostStore, Metrics};
use super::paused::MAX_CALLOUTS;
use super::root::Worker;
use crate::core::config::Config;
use crate::core::gate::{Answer, Decision, Denial, Gate, Io, LogLine, Pending};

/// What carrying out a decision left to do for its request.
pub enum Carried {
    /// Continue to the upstream, adding these `Set-Cookie`s to its response.
    Continue(Vec<String>),
    /// Answered locally.
    Answered,
    /// Paused in the worker's paused set.
    Paused,
    /// Waiting for this callout's answer, which goes to `Gate::resume` with `pending`.
    Calling(u32, Pending),
    /// The request's body is read next (a back-channel logout).
    ReadBody,
}

/// Runs `f` with the worker's gate and an [`Io`] over the host (randomness, shared data,
/// counters). `None` when the worker's state is in use (a re-entered host call).
pub fn with_gate<T>(
    worker: &RefCell<Worker>,
    metrics: &Metrics,
    rng: &mut HostRandom,
    f: impl FnOnce(&mut Gate, &mut Io<'_>) -> T,
) -> Option<T> {
    let mut w = worker.try_borrow_mut().ok()?;
    let Worker { gate, local, shared_broken, .. } = &mut *w;
    let mut store = HostStore { local, broken: shared_broken };
    let mut count = |c| metrics.inc(c);
    let mut log = |line: LogLine| host::log_at(line.level, &format!("oidc-gate: {}", line.message));
    let mut io = Io { rng, shared: &mut store, count: &mut count, log: &mut log };
    Some(f(gate, &mut io))
}

/// Carries out `decision` for request `id`, the effective context; `headers` are its
/// headers as read for the decision.
pub fn carry(
    worker: &Rc<RefCell<Worker>>,
    metrics: &Metrics,
    id: u32,
    decision: Decision,
    rng: &mut HostRandom,
    headers: &mut HostHeaders,
) -> Carried {
    let Some(config) = worker.try_borrow().ok().map(|w| w.gate.config.clone()) else {
        host::send(&Denial::Unavailable.response("oidc-gate", None));
        return Carried::Answered;
    };
    let mut decision = decision;
    loop {
        if rng.failed {
            host::log(LogLevel::Critical, "oidc-gate: the random source failed; refusing the request");
            decision = Decision::Deny(Denial::Unavailable);
            rng.failed = false;
        }
        match decision {
            Decision::Call { callout, pending } => match dispatch(worker, &callout, config.idp_timeout) {
                Ok(token) => return Carried::Calling(token, pending),
                // Over the cap: nothing was asked, so nothing is recorded as the IdP's
                // failure (no shared back-off, no failed slot): a 503 for this request, or
                // the "sign-in unavailable" page for a login.
                Err(None) if !matches!(pending, Pending::Login(_)) => {
                    let _ = with_gate(worker, metrics, rng, |g, io| g.abandon(&pending, io));
                    decision = Decision::Deny(Denial::Unavailable);
                }
                Err(e) => {
                    // Answered as if the IdP had not answered: the flow decides what that means.
                    if let Some(e) = e {
                        host::log(LogLevel::Error, &format!("oidc-gate: {e}"));
                    }
                    let now = host::now_ms();
                    let answer = Answer { status: None, body: b"" };
                    let next = with_gate(worker, metrics, rng, |g, io| g.resume(pending, answer, now, headers, io));
                    decision = next.unwrap_or(Decision::Deny(Denial::Unavailable));
                }
            },
            Decision::Wait { on, pending } => {
                let Ok(mut w) = worker.try_borrow_mut() else {
                    decision = Decision::Deny(Denial::Unavailable);
                    continue;
                };
                if !w.paused.has_room() {
                    drop(w);
                    decision = Decision::Deny(Denial::Unavailable);
                    continue;
                }
                w.paused.pause(id, on, host::now_ms(), pending);
                return Carried::Paused;
            }
            Decision::ReadBody => return Carried::ReadBody,
            other => return answer(other, &config, metrics, headers),
        }
    }
}

/// Starts a request's callout, within the worker's [`MAX_CALLOUTS`]. `Err(None)`: over
/// the cap (not logged per request: the counter `denied.idp_unavailable` shows it).
fn dispatch(
    worker: &Rc<RefCell<Worker>>,
    callout: &crate::core::idp::Callout,
    timeout: std::time::Duration,
) -> Result<u32, Option<String>> {
    let Ok(mut w) = worker.try_borrow_mut() else { return Err(None) };
    if w.calls >= MAX_CALLOUTS {
        return Err(None);
    }
    let token = host::dispatch(callout, timeout).map_err(|e| Some(e.to_string()))?;
    w.calls += 1;
    Ok(token)
}

/// A request's callout ended (answered, or its request gone).
pub fn call_ended(worker: &RefCell<Worker>) {
    if let Ok(mut w) = worker.try_borrow_mut() {
        w.calls = w.calls.saturating_sub(1);
    }
}

/// An allow, a denial or a local response.
fn answer(decision: Decision, config: &Config, metrics: &Metrics, headers: &mut HostHeaders) -> Carried {
    match decision {
        Decision::Allow { identity, counter, cookie, set_cookies, assertion } => {
            let signed = config.assertion.as_ref().zip(assertion.as_deref()).map(|(a, jwt)| (a.header.as_str(), jwt));
            if let Err(e) = host::set_identity_headers(headers, &config.identity.all_headers, &identity, signed) {
                host::log(LogLevel::Error, &format!("oidc-gate: cannot set the identity headers ({e:?}); refusing"));
                metrics.inc(Denial::Unavailable.counter());
                host::send(&Denial::Unavailable.response_for(config));
                return Carried::Answered;
            }
            host::rewrite_cookie(&cookie);
            metrics.inc(counter);
            Carried::Continue(set_cookies)
        }
        Decision::Deny(denial) => {
            metrics.inc(denial.counter());
            host::send(&denial.response_for(config));
            Carried::Answered
        }
        Decision::Respond { response, counter, log } => {
            metrics.inc(counter);
            if let Some(line) = log {
                host::log_at(line.level, &format!("oidc-gate: {}", line.message));
            }
            host::send(&response);
            Carried::Answered
        }
        // Carried in `carry`.
        Decision::Wait { .. } | Decision::Call { .. } | Decision::ReadBody => {
            host::send(&Denial::Unavailable.response_for(config));
            Carried::Answered
        }
    }
}
