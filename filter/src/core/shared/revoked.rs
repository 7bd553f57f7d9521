//! Back-channel logouts shared by the workers of one Envoy: which sessions a logout token
//! ended (those of an IdP session `sid`, or every session of a `sub`) and which logout
//! tokens were used already (`jti`), in one bounded list in proxy-wasm shared data.
//!
//! A logout changes the list with compare-and-swap, then bumps a version number kept under
//! its own 8-byte key. Each worker reads that version once per session request (one small
//! host call) and re-reads and parses the list only when it changed, into its own hash
//! map: the session path never parses the list.
//!
//! Bounded: at most [`MAX_ENTRIES`] entries, each dropped once nothing it names can still
//! be alive (a session ends within `session.lifetime`; a logout token is refused once its
//! `iat` is older than the clock skew). Should the list fill with live entries, it fails
//! safe. First, one person's many logouts (anyone can sign in and out at the IdP in a loop)
//! become one: every session of that `sub` begun until the latest of them ends. Only if the
//! list is still full, every session of this Envoy that began up to that moment is ended
//! (the `floor`), logout tokens issued up to then are refused as replays, and the list
//! starts empty.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::SharedStore;

/// Entries in the shared list, at most (logouts and remembered `jti`s together).
pub const MAX_ENTRIES: usize = 4096;
/// Compare-and-swap attempts before a logout gives up (other workers writing meanwhile).
const RETRIES: usize = 16;
const FORMAT: u8 = 2;
const HEADER: usize = 1 + 8 + 8 + 4;
const ENTRY: usize = 1 + 16 + 16 + 8 + 8;
/// The most bytes the list takes in shared data (about 200 KB).
pub const MAX_LIST_BYTES: usize = HEADER + ENTRY * MAX_ENTRIES;

/// What an entry names: the first 16 bytes of a SHA-256 of its kind and value (never the
/// value itself).
pub type Key = [u8; 16];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The sessions of one IdP session.
    Sid = 1,
    /// Every session of a `sub`.
    Sub = 2,
    /// The sessions of a `sub` that carry no `sid` (a logout naming both `sid` and `sub`
    /// also ends those: they cannot be told apart).
    SidlessSub = 3,
    /// A logout token already used.
    Jti = 4,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        [Kind::Sid, Kind::Sub, Kind::SidlessSub, Kind::Jti].into_iter().find(|k| *k as u8 == b)
    }
}

pub fn key(kind: Kind, value: &str) -> Key {
    let digest = Sha256::new().chain_update([kind as u8]).chain_update(value.as_bytes()).finalize();
    let mut k = [0u8; 16];
    k.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
    k
}

/// The shared-data keys of one login's revocations (per issuer and client, so that two
/// filters sharing a VM keep theirs apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationKeys {
    pub version: String,
    pub list: String,
}

impl RevocationKeys {
    pub fn new(scope: &str) -> Self {
        let digest = Sha256::digest(scope.as_bytes());
        let id: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        RevocationKeys {
            version: format!("oidc-gate/logout/{id}/version"),
            list: format!("oidc-gate/logout/{id}/list"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    kind: Kind,
    key: Key,
    /// When the logout was received (seconds): it ends sessions that began up to then.
    at: u64,
    /// When the entry can be dropped (seconds).
    until: u64,
    /// The [`Kind::Sub`] key of the person whose sessions it ends, when the token named one.
    sub: Option<Key>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct List {
    /// Every session that began up to `floor` is ended, until `floor_until` (after an overflow).
    floor: u64,
    floor_until: u64,
    entries: Vec<Entry>,
}

impl List {
    /// The list as stored; anything unreadable reads as empty.
    fn decode(bytes: &[u8]) -> List {
        let u64_at = |i: usize| bytes.get(i..i + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
        let count = bytes.get(17..21).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
        let body = bytes.get(HEADER..).unwrap_or_default();
        let whole = count.is_some_and(|n| n as usize == body.len() / ENTRY && n as usize <= MAX_ENTRIES);
        let (Some(&FORMAT), Some(floor), Some(floor_until), true) =
            (bytes.first(), u64_at(1), u64_at(9), whole && body.len() % ENTRY == 0)
        else {
            return List::default();
        };
        let entries = body
            .chunks_exact(ENTRY)
            .take(MAX_ENTRIES)
            .filter_map(|e| {
                let kind = Kind::from_byte(*e.first()?)?;
                let key: Key = e.get(1..17)?.try_into().ok()?;
                let sub: Key = e.get(17..33)?.try_into().ok()?;
                let sub = (sub != [0u8; 16]).then_some(sub);
                let at = u64::from_le_bytes(e.get(33..41)?.try_into().ok()?);
                let until = u64::from_le_bytes(e.get(41..49)?.try_into().ok()?);
                Some(Entry { kind, key, at, until, sub })
            })
            .collect();
        List { floor, floor_until, entries }
    }

    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADER + ENTRY * self.entries.len());
        v.push(FORMAT);
        v.extend_from_slice(&self.floor.to_le_bytes());
        v.extend_from_slice(&self.floor_until.to_le_bytes());
        v.extend_from_slice(&u32::try_from(self.entries.len()).unwrap_or(u32::MAX).to_le_bytes());
        for e in &self.entries {
            v.push(e.kind as u8);
            v.extend_from_slice(&e.key);
            v.extend_from_slice(&e.sub.unwrap_or([0u8; 16]));
            v.extend_from_slice(&e.at.to_le_bytes());
            v.extend_from_slice(&e.until.to_le_bytes());
        }
        v
    }

    /// Makes room: the entries of a person whose logouts named several `sid`s become one
    /// [`Kind::Sub`] entry, ending every session of theirs begun until the latest (more
    /// than was asked, for that person only); entries with the same key become one.
    fn compact(&mut self) {
        let mut per_sub: HashMap<Key, usize> = HashMap::new();
        for sub in self.entries.iter().filter(|e| e.kind == Kind::Sid).filter_map(|e| e.sub) {
            *per_sub.entry(sub).or_default() += 1;
        }
        let mut merged: Vec<Entry> = Vec::with_capacity(self.entries.len());
        let mut at: HashMap<(u8, Key), usize> = HashMap::new();
        for e in self.entries.drain(..) {
            let e = match e.sub {
                Some(sub) if e.kind != Kind::Jti && per_sub.get(&sub).is_some_and(|n| *n > 1) => {
                    Entry { kind: Kind::Sub, key: sub, ..e }
                }
                _ => e,
            };
            match at.get(&(e.kind as u8, e.key)).and_then(|i| merged.get_mut(*i)) {
                Some(m) => (m.at, m.until) = (m.at.max(e.at), m.until.max(e.until)),
                None => {
                    at.insert((e.kind as u8, e.key), merged.len());
                    merged.push(e);
                }
            }
        }
        self.entries = merged;
    }
}

/// A validated logout token, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logout {
    pub jti: Key,
    /// The token's `iat` (seconds).
    pub iat: u64,
    /// Until when its `jti` must be remembered (after that its `iat` is too old anyway).
    pub jti_until: u64,
    /// What it ends: [`Kind::Sid`], [`Kind::Sub`] or [`Kind::SidlessSub`] keys.
    pub ends: Vec<(Kind, Key)>,
    /// Until when a session it ends could still be alive (now + `session.lifetime`).
    pub until: u64,
    /// The [`Kind::Sub`] key of the token's `sub`, when it names one.
    pub sub: Option<Key>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    /// The token's `jti` was seen before (or it predates an overflow).
    Replayed,
    /// Other workers kept changing the list (or the store refused it).
    Busy,
}

/// How a recorded logout went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The list was full: every session that began until now was ended.
    pub overflowed: bool,
}

/// Creates the list and its version empty when they do not exist yet (when a worker
/// starts), so that every later write compares and swaps an existing version.
pub fn create(store: &mut dyn SharedStore, keys: &RevocationKeys) {
    for key in [&keys.list, &keys.version] {
        if store.get(key).is_none() {
            store.set(key, b"", 0);
        }
    }
}

/// Records a logout for every worker of this Envoy: refused when its `jti` was used.
pub fn record(
    store: &mut dyn SharedStore,
    keys: &RevocationKeys,
    logout: &Logout,
    now_s: u64,
) -> Result<Recorded, RecordError> {
    for _ in 0..RETRIES {
        let Some((bytes, cas)) = store.get(&keys.list) else {
            create(store, keys);
            continue;
        };
        let mut list = List::decode(&bytes);
        list.entries.retain(|e| now_s < e.until);
        if now_s >= list.floor_until {
            (list.floor, list.floor_until) = (0, 0);
        }
        let seen = list.entries.iter().any(|e| e.kind == Kind::Jti && e.key == logout.jti);
        if seen || (list.floor_until > 0 && logout.iat <= list.floor) {
            return Err(RecordError::Replayed);
        }
        list.entries.push(Entry { kind: Kind::Jti, key: logout.jti, at: now_s, until: logout.jti_until, sub: None });
        for (kind, key) in &logout.ends {
            list.entries.push(Entry { kind: *kind, key: *key, at: now_s, until: logout.until, sub: logout.sub });
        }
        if list.entries.len() > MAX_ENTRIES {
            list.compact();
        }
        let overflowed = list.entries.len() > MAX_ENTRIES;
        if overflowed {
            // Fail safe: end every session that began until now, refuse every older token.
            list.floor = now_s;
            list.floor_until = list.floor_until.max(logout.until).max(logout.jti_until);
            list.entries.clear();
        }
        if cas != 0 && store.set(&keys.list, &list.encode(), cas) {
            bump(store, keys);
            return Ok(Recorded { overflowed });
        }
        if cas == 0 {
            create(store, keys);
        }
    }
    Err(RecordError::Busy)
}

/// Tells the workers that the list changed.
fn bump(store: &mut dyn SharedStore, keys: &RevocationKeys) {
    for _ in 0..RETRIES {
        let (bytes, cas) = store.get(&keys.version).unwrap_or_default();
        let next = version_of(&bytes).unwrap_or(0).wrapping_add(1);
        if store.set(&keys.version, &next.to_le_bytes(), cas) {
            return;
        }
    }
}

fn version_of(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_le_bytes)
}

/// What a session is matched by: its login time and the keys of its `sub` and of its
/// `sid` (or, without one, of its `sub` as a session without `sid`). Made when the
/// session cookie is opened, so a cached session is matched without hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub iat: u64,
    sub: Key,
    own: Key,
}

impl Mark {
    pub fn new(iat: u64, sub: &str, sid: Option<&str>) -> Mark {
        let own = match sid {
            Some(sid) => key(Kind::Sid, sid),
            None => key(Kind::SidlessSub, sub),
        };
        Mark { iat, sub: key(Kind::Sub, sub), own }
    }
}

/// One worker's copy of the shared list (logouts only, not the `jti`s).
#[derive(Debug, Default)]
pub struct Revocations {
    /// The version the copy was read at; `None` before the first read.
    version: Option<Option<u64>>,
    ended: HashMap<Key, (u64, u64)>,
    floor: u64,
    floor_until: u64,
}

impl Revocations {
    /// Brings the copy up to date: one read of the version, and of the list only when it
    /// changed since the last read.
    pub fn sync(&mut self, store: &mut dyn SharedStore, keys: &RevocationKeys) {
        let version = store.get(&keys.version).and_then(|(v, _)| version_of(&v));
        if self.version == Some(version) {
            return;
        }
        let list = store.get(&keys.list).map(|(v, _)| List::decode(&v)).unwrap_or_default();
        self.ended.clear();
        for e in list.entries.iter().filter(|e| e.kind != Kind::Jti) {
            let (at, until) = self.ended.entry(e.key).or_insert((e.at, e.until));
            (*at, *until) = ((*at).max(e.at), (*until).max(e.until));
        }
        (self.floor, self.floor_until) = (list.floor, list.floor_until);
        self.version = Some(version);
    }

    /// Whether a back-channel logout ended the session marked `mark`.
    pub fn ended(&self, mark: &Mark, now_s: u64) -> bool {
        if now_s < self.floor_until && mark.iat <= self.floor {
            return true;
        }
        let hit = |k: &Key| self.ended.get(k).is_some_and(|(at, until)| mark.iat <= *at && now_s < *until);
        !self.ended.is_empty() && (hit(&mark.sub) || hit(&mark.own))
    }

    /// Whether nothing can match now (then a session needs no hashing).
    pub fn is_empty_at(&self, now_s: u64) -> bool {
        self.ended.is_empty() && now_s >= self.floor_until
    }

    /// How many logouts the copy holds (tests and limits).
    pub fn len(&self) -> usize {
        self.ended.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ended.is_empty()
    }
}

#[cfg(test)]
mod tests;
