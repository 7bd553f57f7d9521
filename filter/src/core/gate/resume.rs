//! Requests taken up again: after the answer to their own callout ([`Gate::resume`]), or
//! after a wait with an exchange under way ([`Gate::resume_after_wait`]).

use super::{Decision, Denial, Gate, Io, Pending, RequestHeaders};
use crate::core::login::callback::LoginContext;
use crate::core::login::Step;

/// A callout's answer: `status` is `None` when there was none (unreachable, timed out).
pub struct Answer<'a> {
    pub status: Option<u16>,
    pub body: &'a [u8],
}

impl Gate {
    /// A callout that was never made (the worker had no room for it): the shared slot its
    /// request claimed is freed, so that others neither wait on it nor count a failure.
    pub fn abandon(&mut self, pending: &Pending, io: &mut Io<'_>) {
        if let Some((key, id)) = pending.claimed() {
            crate::core::shared::flight::Flight::at(io.shared, key, id).release();
        }
    }

    /// Takes the answer to a request's own callout and decides what comes next. `headers`
    /// are the request's (some flows decide it again once the answer is in).
    pub fn resume(
        &mut self,
        pending: Pending,
        answer: Answer<'_>,
        now_ms: u64,
        headers: &mut dyn RequestHeaders,
        io: &mut Io<'_>,
    ) -> Decision {
        match pending {
            Pending::Login(callback) => self.take_up_login(true, |ctx| {
                callback.on_response(ctx, answer.status, answer.body, now_ms / 1000, io.rng)
            }),
            Pending::Introspect(call) => {
                self.introspection_answered(&call, answer.status, answer.body, now_ms, headers, io)
            }
            Pending::Refresh(call) => self.refresh_answered(*call, answer.status, answer.body, now_ms, headers, io),
        }
    }

    /// A login step taken with the login's context, as a decision.
    fn take_up_login(&mut self, may_wait: bool, step: impl FnOnce(&LoginContext<'_>) -> Step) -> Decision {
        let config = self.config.clone();
        let (Some(login), Some(provider)) = (&config.login, self.providers.first()) else {
            return Decision::Deny(Denial::Unavailable);
        };
        let step = step(&LoginContext { config: &config, login, provider });
        self.login_step(step, may_wait, None)
    }

    /// Takes up a request that waited with an exchange under way (`Decision::Wait` with
    /// `pending`), now that what it waited for came (or the wait ended).
    pub fn resume_after_wait(
        &mut self,
        pending: Pending,
        now_ms: u64,
        headers: &mut dyn RequestHeaders,
        io: &mut Io<'_>,
    ) -> Decision {
        match pending {
            Pending::Login(callback) => {
                self.take_up_login(false, |ctx| callback.after_keys(ctx, now_ms / 1000, io.rng))
            }
            // Introspections and refreshes do not wait with a pending call: decide again.
            Pending::Introspect(_) | Pending::Refresh(_) => self.decide(headers, now_ms, false, io),
        }
    }
}
