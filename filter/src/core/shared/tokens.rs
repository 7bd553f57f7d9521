//! Verified bearer tokens shared by the workers of one Envoy, so that a token is verified
//! once per Envoy rather than once per worker. Each worker's own cache is looked at
//! first; this one only on a miss there.
//!
//! Entries live in a fixed ring of [`SLOTS`] shared-data slots (proxy-wasm shared data
//! cannot delete a key, so keys never grow past the ring), each value at most
//! [`MAX_ENTRY`] bytes: at most `SLOTS * MAX_ENTRY` bytes of shared memory whatever
//! clients send. A token is found by the SHA-256 of the whole token, stored in full in
//! its entry and compared whole: SHA-256 is collision resistant, so no other token can
//! take a cached identity. An entry is served only before the token's `exp`, and only to
//! a worker whose config and issuer keys are those it was verified under (`scope`): new
//! keys (a rotation, `keys_changed`) or a new config make every older entry unusable.
//! Writers never coordinate: a slot taken by two tokens at once keeps one of them, and
//! the other is simply verified again when next seen.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::SharedStore;
use crate::core::identity::Identity;

/// Slots in the ring.
pub const SLOTS: u64 = 32_768;
/// Slots tried from a token's own (open addressing). A lookup stops at the first slot never
/// written (a token is always put before any such slot of its run, and slots are never
/// emptied; lapsed entries still count as written), so a miss costs one or two reads
/// until some 20,000 distinct tokens have been shared, and at most 16 after that (~5 us,
/// beside a signature check of ~115 us; a token naming no known key never looks). 16
/// slots make a run of live tokens that evicts one rare (8 lost about 11 of 10,000 live
/// tokens a pass, verified again each time: `scripts/bench` counted 1.024 verifications
/// per token). A worker whose shared data fails between two reads of one `put` keeps its
/// entries in its own store from then on, where a token may land past an empty slot and
/// be verified once more.
const PROBES: u64 = 16;
/// The largest value kept (header and identity); a larger identity is not shared.
pub const MAX_ENTRY: usize = 1024;
const VERSION: u8 = 1;
/// version, SHA-256 of the token, `exp`, scope.
const HEADER: usize = 1 + 32 + 8 + 16;

pub type Digest32 = [u8; 32];
/// What an entry is valid for: the config and the issuer's keys it was verified under.
pub type Scope = [u8; 16];

pub fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}

/// The scope of a token verified by issuer `issuer` (its index) under keys with the
/// fingerprint `keys`, by a filter whose config has the fingerprint `config`.
pub fn scope(config: &[u8; 16], issuer: usize, keys: &[u8; 16]) -> Scope {
    let d =
        Sha256::new().chain_update(config).chain_update((issuer as u64).to_le_bytes()).chain_update(keys).finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(d.get(..16).unwrap_or(&[0u8; 16]));
    out
}

fn slot_key(slot: u64) -> String {
    format!("oidc-gate/verified/{slot}")
}

fn first_slot(d: &Digest32) -> u64 {
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]) % SLOTS
}

/// (digest, exp, scope) of a value, when it is an entry.
fn header(value: &[u8]) -> Option<(&[u8], u64, &[u8])> {
    if value.len() < HEADER || value.first() != Some(&VERSION) {
        return None;
    }
    let exp = u64::from_le_bytes(value.get(33..41)?.try_into().ok()?);
    Some((value.get(1..33)?, exp, value.get(41..HEADER)?))
}

/// The identity another worker verified for this token, and the token's `exp`.
pub fn get(store: &mut dyn SharedStore, scope: &Scope, d: &Digest32, now_s: u64) -> Option<(u64, Identity)> {
    let base = first_slot(d);
    for probe in 0..PROBES {
        let (value, _) = store.get(&slot_key((base + probe) % SLOTS))?;
        match header(&value) {
            Some((digest, exp, s)) if digest == d => {
                if now_s >= exp || s != scope {
                    return None;
                }
                return decode_identity(value.get(HEADER..)?).map(|id| (exp, id));
            }
            _ => continue,
        }
    }
    None
}

/// Shares a verified token's identity until `exp`. The slot: this token's own, else one
/// empty or lapsed, else the one that lapses first. `false` when not shared (too large,
/// or the store refused).
pub fn put(
    store: &mut dyn SharedStore,
    scope: &Scope,
    d: &Digest32,
    exp: u64,
    identity: &Identity,
    now_s: u64,
) -> bool {
    if now_s >= exp {
        return false;
    }
    let payload = encode_identity(identity);
    if HEADER + payload.len() > MAX_ENTRY {
        return false;
    }
    let base = first_slot(d);
    let mut chosen: Option<(u64, u64)> = None; // (slot, exp there)
    for probe in 0..PROBES {
        let slot = (base + probe) % SLOTS;
        let held = store.get(&slot_key(slot)).and_then(|(v, _)| header(&v).map(|(digest, e, _)| (digest == d, e)));
        match held {
            Some((true, _)) | None => {
                chosen = Some((slot, 0));
                break;
            }
            Some((false, e)) if now_s >= e => {
                chosen = Some((slot, 0));
                break;
            }
            Some((false, e)) => {
                if chosen.map_or(true, |(_, c)| e < c) {
                    chosen = Some((slot, e));
                }
            }
        }
    }
    let Some((slot, _)) = chosen else { return false };
    let mut value = Vec::with_capacity(HEADER + payload.len());
    value.push(VERSION);
    value.extend_from_slice(d);
    value.extend_from_slice(&exp.to_le_bytes());
    value.extend_from_slice(scope);
    value.extend_from_slice(&payload);
    store.set(&slot_key(slot), &value, 0)
}

fn encode_identity(identity: &Identity) -> Vec<u8> {
    json!({"h": identity.headers, "c": identity.claims}).to_string().into_bytes()
}

/// Bearer identities only: `authorization` is always `Keep` (the token passes as sent).
fn decode_identity(bytes: &[u8]) -> Option<Identity> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    let headers = v
        .get("h")?
        .as_array()?
        .iter()
        .map(|pair| Some((pair.get(0)?.as_str()?.to_string(), pair.get(1)?.as_str()?.to_string())))
        .collect::<Option<Vec<_>>>()?;
    let claims: Map<String, Value> = v.get("c")?.as_object()?.clone();
    Some(Identity { headers, claims, ..Identity::default() })
}

#[cfg(test)]
mod ring_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::shared::LocalStore;

    fn identity(user: &str) -> Identity {
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(user));
        Identity { headers: vec![("x-user-id".into(), user.into())], claims, ..Identity::default() }
    }

    const SCOPE: Scope = [1; 16];

    #[test]
    fn a_token_verified_by_one_worker_is_found_by_another_until_exp() {
        let mut store = LocalStore::default();
        let d = digest("token-a");
        assert!(get(&mut store, &SCOPE, &d, 10).is_none());
        assert!(put(&mut store, &SCOPE, &d, 100, &identity("alice"), 10));
        assert_eq!(get(&mut store, &SCOPE, &d, 99), Some((100, identity("alice"))));
        assert!(get(&mut store, &SCOPE, &d, 100).is_none(), "never at or past exp");
        assert!(!put(&mut store, &SCOPE, &digest("late"), 100, &identity("x"), 100), "already expired");
    }

    #[test]
    fn another_token_or_scope_never_matches() {
        let mut store = LocalStore::default();
        put(&mut store, &SCOPE, &digest("token-a"), 100, &identity("alice"), 0);
        assert!(get(&mut store, &SCOPE, &digest("token-b"), 1).is_none());
        assert!(get(&mut store, &SCOPE, &digest("token-"), 1).is_none());
        // New keys (or a new config) give a new scope: the entry is not served.
        assert!(get(&mut store, &[2; 16], &digest("token-a"), 1).is_none());
        assert_ne!(scope(&[0; 16], 0, &[1; 16]), scope(&[0; 16], 0, &[2; 16]));
        assert_ne!(scope(&[0; 16], 0, &[1; 16]), scope(&[0; 16], 1, &[1; 16]));
        assert_ne!(scope(&[0; 16], 0, &[1; 16]), scope(&[3; 16], 0, &[1; 16]));
    }

    #[test]
    fn stays_within_its_slots_and_entry_size() {
        let mut store = LocalStore::default();
        for i in 0..(SLOTS + 5000) {
            put(&mut store, &SCOPE, &digest(&format!("t{i}")), 1000, &identity("u"), 0);
        }
        let keys = (0..SLOTS).filter(|s| store.get(&slot_key(*s)).is_some()).count() as u64;
        assert!(keys <= SLOTS);
        // The most recent tokens are there.
        assert!(get(&mut store, &SCOPE, &digest(&format!("t{}", SLOTS + 4999)), 1).is_some());
        let mut big = identity("u");
        big.claims.insert("groups".into(), json!(vec!["g".repeat(100); 20]));
        assert!(!put(&mut store, &SCOPE, &digest("big"), 1000, &big, 0), "over MAX_ENTRY: not shared");
        assert!(get(&mut store, &SCOPE, &digest("big"), 1).is_none());
    }

    #[test]
    fn ten_thousand_tokens_fit_without_eviction() {
        let mut store = LocalStore::default();
        let n = 10_000;
        for i in 0..n {
            put(&mut store, &SCOPE, &digest(&format!("pool-{i}")), 1000, &identity("u"), 0);
        }
        let found = (0..n).filter(|i| get(&mut store, &SCOPE, &digest(&format!("pool-{i}")), 1).is_some()).count();
        assert_eq!(found, n, "every one found");
        // As `scripts/bench` sends them: the pool over and over, a miss verified and shared again.
        let mut again = 0;
        for _ in 0..20 {
            for i in 0..n {
                let d = digest(&format!("pool-{i}"));
                if get(&mut store, &SCOPE, &d, 1).is_none() {
                    again += 1;
                    put(&mut store, &SCOPE, &d, 1000, &identity("u"), 1);
                }
            }
        }
        assert_eq!(again, 0, "verified again");
    }
}
