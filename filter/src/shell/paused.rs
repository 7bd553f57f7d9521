//! Requests paused while what they need is fetched, in one place: which request waits
//! for what and since when, and the `Set-Cookie`s a resumed request still has to add to
//! its response.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::core::gate::{Pending, WaitFor};

/// Requests one worker keeps paused at most; one more is answered 503 at once. A paused
/// request costs its headers in Envoy and a few bytes here; this bounds both while the IdP
/// is slow and requests pile up.
pub const MAX_PAUSED: usize = 1024;
/// Callouts one worker has in flight for requests at most (introspections, refreshes,
/// code exchanges); beyond it the request is answered as if the IdP had not (a 503 or the
/// "sign-in unavailable" page). Issuer fetches are one per issuer and not counted.
pub const MAX_CALLOUTS: usize = 512;

struct Waiting {
    on: WaitFor,
    since_ms: u64,
    /// An exchange the request had under way when it paused (a login's token response
    /// waiting for re-fetched keys): taken up again rather than decided anew.
    pending: Option<Pending>,
}

#[derive(Default)]
pub struct Paused {
    waiting: BTreeMap<u32, Waiting>,
    /// When each request first paused: one that pauses again (after its issuer's fetch
    /// settled) keeps that time, so `startup_wait` bounds its whole wait, however many
    /// times it is decided again.
    first: HashMap<u32, u64>,
    /// For resumed requests, picked up in their response phase.
    set_cookies: HashMap<u32, Vec<String>>,
}

impl Paused {
    pub fn pause(&mut self, id: u32, on: WaitFor, now_ms: u64, pending: Option<Pending>) {
        let since_ms = *self.first.entry(id).or_insert(now_ms);
        self.waiting.insert(id, Waiting { on, since_ms, pending });
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Whether one more request may pause.
    pub fn has_room(&self) -> bool {
        self.waiting.len() < MAX_PAUSED
    }

    /// Takes the requests that wait for `on`, with what they had under way.
    pub fn take_waiting_on(&mut self, on: &WaitFor) -> Vec<(u32, Option<Pending>)> {
        self.take(|w| w.on == *on)
    }

    /// Takes the requests that have waited `max` or longer.
    pub fn take_expired(&mut self, now_ms: u64, max: Duration) -> Vec<(u32, Option<Pending>)> {
        let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        self.take(|w| now_ms >= w.since_ms.saturating_add(max_ms))
    }

    /// The distinct things waited for (the root checks shared flights on its tick).
    pub fn waited_for(&self) -> Vec<WaitFor> {
        let mut on: Vec<WaitFor> = Vec::new();
        for w in self.waiting.values() {
            if !on.contains(&w.on) {
                on.push(w.on.clone());
            }
        }
        on
    }

    fn take(&mut self, pick: impl Fn(&Waiting) -> bool) -> Vec<(u32, Option<Pending>)> {
        let ids: Vec<u32> = self.waiting.iter().filter(|(_, w)| pick(w)).map(|(id, _)| *id).collect();
        ids.into_iter().filter_map(|id| self.waiting.remove(&id).map(|w| (id, w.pending))).collect()
    }

    /// `Set-Cookie`s for a request resumed from here.
    pub fn keep_cookies(&mut self, id: u32, set_cookies: Vec<String>) {
        if !set_cookies.is_empty() {
            self.set_cookies.insert(id, set_cookies);
        }
    }

    pub fn take_cookies(&mut self, id: u32) -> Option<Vec<String>> {
        self.set_cookies.remove(&id)
    }

    /// The request ended (or its client left): drop whatever is kept for it.
    pub fn forget(&mut self, id: u32) {
        if !self.waiting.is_empty() {
            self.waiting.remove(&id);
        }
        if !self.first.is_empty() {
            self.first.remove(&id);
        }
        if !self.set_cookies.is_empty() {
            self.set_cookies.remove(&id);
        }
    }
}
