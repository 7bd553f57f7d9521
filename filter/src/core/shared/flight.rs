//! One call per Envoy for one subject (a refresh token, an opaque token): the first
//! worker to see it claims a slot in shared data and makes the call; the others wait for
//! the slot to hold the outcome, which they then use as their own.
//!
//! Slots are a fixed ring (`SLOTS` per kind), so shared memory stays bounded whatever
//! clients send: a slot holds one subject's id and state, and is reused once that state
//! has lapsed. A slot still in use by another subject means no coordination for this one:
//! the caller proceeds alone (correct, just not deduplicated across workers).
//!
//! Proxy-wasm shared data has no atomic create (a write with version 0 always succeeds),
//! so every slot is created empty when a worker starts ([`create_slots`]) and claims
//! always compare-and-swap an existing version. Only a claim racing another worker's very
//! first start could still be doubled.

use std::time::Duration;

use super::SharedStore;

/// Slots per kind of call.
pub const SLOTS: u64 = 1024;
/// Slots tried from a subject's own (open addressing), so that two subjects whose ids
/// meet in one slot still each get one.
const PROBES: u64 = 4;
const VERSION: u8 = 1;
const HEADER: usize = 30;

/// A subject's id: the first 16 bytes of a SHA-256 of it (never the subject itself).
pub type Id = [u8; 16];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Busy = 1,
    Done = 2,
    Failed = 3,
    Dead = 4,
}

/// What the slot says about a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Nobody is on it: claim it with this version. `failures`: how many calls for this
    /// subject failed before (from a lapsed failure), for the back-off.
    Free { cas: u32, failures: u32 },
    /// A worker is making the call.
    Busy,
    /// The call succeeded: its outcome, as the owner stored it (`cas`: to claim the slot
    /// anyway, when the outcome turns out stale for the caller).
    Done { outcome: Vec<u8>, cas: u32 },
    /// The call failed for a reason that may pass: do not retry before `retry_at_ms`.
    Failed { retry_at_ms: u64, failures: u32 },
    /// The IdP refused for good (`invalid_grant`, an inactive token).
    Dead,
    /// The slot serves another subject right now: go alone.
    Taken,
}

/// The slot of `id` for calls of `kind`.
pub struct Flight<'s> {
    store: &'s mut dyn SharedStore,
    kind: String,
    base: u64,
    /// The slot chosen by [`Flight::look`] (or given to [`Flight::at`]).
    key: String,
    id: Id,
}

impl<'s> Flight<'s> {
    pub fn new(store: &'s mut dyn SharedStore, kind: &str, id: Id) -> Self {
        let base = u64::from_le_bytes([id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7]]) % SLOTS;
        Flight { store, kind: kind.to_string(), base, key: slot_key(kind, base), id }
    }

    /// The slot a claim took (the owner writes the outcome there).
    pub fn at(store: &'s mut dyn SharedStore, key: &str, id: Id) -> Self {
        Flight { store, kind: String::new(), base: 0, key: key.to_string(), id }
    }

    /// What the slots say about this subject: the slot holding it, else the first one
    /// free (kept for [`Flight::claim`]), else `Taken`.
    pub fn look(&mut self, now_ms: u64) -> Seen {
        let mut free: Option<(String, Seen)> = None;
        for probe in 0..PROBES {
            let key = slot_key(&self.kind, (self.base + probe) % SLOTS);
            let (value, cas) = self.store.get(&key).unwrap_or((Vec::new(), 0));
            let seen = match header(&value) {
                Some((state, id, until_ms, count)) if id == self.id => match state {
                    _ if now_ms >= until_ms => {
                        let failures = if state == State::Failed { count } else { 0 };
                        Seen::Free { cas, failures }
                    }
                    State::Busy => Seen::Busy,
                    State::Done => Seen::Done { outcome: value.get(HEADER..).unwrap_or_default().to_vec(), cas },
                    State::Failed => Seen::Failed { retry_at_ms: until_ms, failures: count },
                    State::Dead => Seen::Dead,
                },
                Some((_, _, until_ms, _)) if now_ms < until_ms => continue,
                _ => Seen::Free { cas, failures: 0 },
            };
            match seen {
                Seen::Free { .. } => {
                    // A lapsed slot of this very subject beats an empty one further on.
                    let ours = header(&value).is_some_and(|(_, id, _, _)| id == self.id);
                    if free.is_none() || ours {
                        free = Some((key, seen));
                    }
                }
                found => {
                    self.key = key;
                    return found;
                }
            }
        }
        match free {
            Some((key, seen)) => {
                self.key = key;
                seen
            }
            None => Seen::Taken,
        }
    }

    /// Claims a free slot for `busy_for` (longer than the call can take). `false` when
    /// another worker claimed it first.
    pub fn claim(&mut self, cas: u32, now_ms: u64, busy_for: Duration) -> bool {
        let cas = if cas != 0 { cas } else { self.create() };
        let value = encode(State::Busy, &self.id, now_ms.saturating_add(ms(busy_for)), 0, &[]);
        cas != 0 && self.store.set(&self.key, &value, cas)
    }

    /// The version of the slot, created empty if it was never set (0 when the store
    /// refuses).
    fn create(&mut self) -> u32 {
        if self.store.get(&self.key).is_none() {
            self.store.set(&self.key, b"", 0);
        }
        match self.store.get(&self.key) {
            Some((value, cas)) if header(&value).is_none() => cas,
            _ => 0,
        }
    }

    /// The call succeeded: `outcome` is good until `until_ms`.
    pub fn done(&mut self, outcome: &[u8], until_ms: u64) {
        let value = encode(State::Done, &self.id, until_ms, 0, outcome);
        self.store.set(&self.key, &value, 0);
    }

    /// The call failed for now: nobody retries before `retry_at_ms`.
    pub fn failed(&mut self, retry_at_ms: u64, failures: u32) {
        let value = encode(State::Failed, &self.id, retry_at_ms, failures, &[]);
        self.store.set(&self.key, &value, 0);
    }

    /// The call was never made (the worker had no room for it): the slot is free again
    /// at once, and no failure is counted.
    pub fn release(&mut self) {
        let value = encode(State::Failed, &self.id, 0, 0, &[]);
        self.store.set(&self.key, &value, 0);
    }

    /// The IdP refused for good; remembered until `until_ms`.
    pub fn dead(&mut self, until_ms: u64) {
        let value = encode(State::Dead, &self.id, until_ms, 0, &[]);
        self.store.set(&self.key, &value, 0);
    }

    /// The slot's key, for a request that waits on it.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Creates every slot of `kind` that does not exist yet, empty (when a worker starts).
pub fn create_slots(store: &mut dyn SharedStore, kind: &str) {
    for slot in 0..SLOTS {
        let key = slot_key(kind, slot);
        if store.get(&key).is_none() {
            store.set(&key, b"", 0);
        }
    }
}

/// Whether the slot at `key` still has a call under way (for requests that wait on it).
pub fn busy(store: &mut dyn SharedStore, key: &str, now_ms: u64) -> bool {
    store
        .get(key)
        .and_then(|(value, _)| header(&value))
        .is_some_and(|(state, _, until_ms, _)| state == State::Busy && now_ms < until_ms)
}

fn slot_key(kind: &str, slot: u64) -> String {
    format!("oidc-gate/{kind}/{slot}")
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn encode(state: State, id: &Id, until_ms: u64, count: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER + payload.len());
    v.push(VERSION);
    v.push(state as u8);
    v.extend_from_slice(id);
    v.extend_from_slice(&until_ms.to_le_bytes());
    v.extend_from_slice(&count.to_le_bytes());
    v.extend_from_slice(payload);
    v
}

fn header(value: &[u8]) -> Option<(State, Id, u64, u32)> {
    if value.len() < HEADER || value.first() != Some(&VERSION) {
        return None;
    }
    let state = match value.get(1)? {
        1 => State::Busy,
        2 => State::Done,
        3 => State::Failed,
        4 => State::Dead,
        _ => return None,
    };
    let id: Id = value.get(2..18)?.try_into().ok()?;
    let until = u64::from_le_bytes(value.get(18..26)?.try_into().ok()?);
    let count = u32::from_le_bytes(value.get(26..30)?.try_into().ok()?);
    Some((state, id, until, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::shared::LocalStore;

    const BUSY: Duration = Duration::from_secs(7);

    fn id(n: u8) -> Id {
        [n; 16]
    }

    #[test]
    fn one_worker_calls_the_others_wait_then_share_the_outcome() {
        let mut store = LocalStore::default();
        let Seen::Free { cas, .. } = Flight::new(&mut store, "refresh", id(1)).look(1000) else { panic!() };
        assert!(Flight::new(&mut store, "refresh", id(1)).claim(cas, 1000, BUSY));
        // A second worker that looked at the same time loses the race, even when what it
        // saw was a slot never set.
        assert!(!Flight::new(&mut store, "refresh", id(1)).claim(cas, 1000, BUSY));
        assert!(!Flight::new(&mut store, "refresh", id(1)).claim(0, 1000, BUSY));
        assert_eq!(Flight::new(&mut store, "refresh", id(1)).look(1500), Seen::Busy);
        let key = Flight::new(&mut store, "refresh", id(1)).key().to_string();
        assert!(busy(&mut store, &key, 1500));
        Flight::new(&mut store, "refresh", id(1)).done(b"outcome", 61_000);
        assert!(
            matches!(Flight::new(&mut store, "refresh", id(1)).look(2000), Seen::Done { outcome, .. } if outcome == b"outcome")
        );
        assert!(!busy(&mut store, &key, 2000));
        // Lapsed: free again.
        assert!(matches!(Flight::new(&mut store, "refresh", id(1)).look(61_000), Seen::Free { .. }));
    }

    #[test]
    fn a_busy_claim_lapses_so_a_lost_worker_never_blocks_the_subject() {
        let mut store = LocalStore::default();
        assert!(Flight::new(&mut store, "k", id(2)).claim(0, 1000, BUSY));
        assert_eq!(Flight::new(&mut store, "k", id(2)).look(7999), Seen::Busy);
        assert!(matches!(Flight::new(&mut store, "k", id(2)).look(8000), Seen::Free { .. }));
    }

    #[test]
    fn failures_and_refusals_are_shared_and_another_subject_in_the_slot_means_go_alone() {
        let mut store = LocalStore::default();
        Flight::new(&mut store, "k", id(3)).failed(5000, 2);
        assert_eq!(Flight::new(&mut store, "k", id(3)).look(1000), Seen::Failed { retry_at_ms: 5000, failures: 2 });
        Flight::new(&mut store, "k", id(3)).dead(9000);
        assert_eq!(Flight::new(&mut store, "k", id(3)).look(1000), Seen::Dead);
        // Other subjects whose ids start in the same slot take the next ones; when every
        // slot in reach is live, a subject goes alone.
        let mut others = Vec::new();
        for n in 0..PROBES as u8 {
            let mut other = id(3);
            other[15] = 10 + n; // same first slot (it comes from the first 8 bytes)
            others.push(other);
        }
        for other in &others[..PROBES as usize - 1] {
            let mut f = Flight::new(&mut store, "k", *other);
            let Seen::Free { cas, .. } = f.look(1000) else { panic!("no slot for a colliding subject") };
            assert!(f.claim(cas, 1000, BUSY));
        }
        assert_eq!(Flight::new(&mut store, "k", others[PROBES as usize - 1]).look(1000), Seen::Taken);
        assert_eq!(Flight::new(&mut store, "k", id(3)).look(1000), Seen::Dead, "the first subject keeps its slot");
        assert_eq!(Flight::new(&mut store, "other-kind", id(3)).look(1000), Seen::Free { cas: 0, failures: 0 });
        // A lapsed failure is free again, and says how many came before.
        Flight::new(&mut store, "k", id(4)).failed(5000, 3);
        assert!(matches!(Flight::new(&mut store, "k", id(4)).look(5000), Seen::Free { failures: 3, .. }));
    }

    #[test]
    fn slots_created_at_start_give_every_claim_a_version_to_compare() {
        let mut store = LocalStore::default();
        create_slots(&mut store, "k");
        let Seen::Free { cas, .. } = Flight::new(&mut store, "k", id(5)).look(1) else { panic!() };
        assert_ne!(cas, 0);
        create_slots(&mut store, "k"); // another worker starting: existing slots are kept
        assert!(Flight::new(&mut store, "k", id(5)).claim(cas, 1, BUSY));
        create_slots(&mut store, "k");
        assert_eq!(Flight::new(&mut store, "k", id(5)).look(2), Seen::Busy);
    }

    #[test]
    fn garbage_in_a_slot_reads_as_free() {
        let mut store = LocalStore::default();
        store.set("oidc-gate/k/0", b"junk", 0);
        let mut f = Flight::new(&mut store, "k", [0u8; 16]);
        assert_eq!(f.look(1), Seen::Free { cas: 1, failures: 0 });
    }
}
