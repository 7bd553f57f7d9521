//! The per-worker verified-token cache: bounded, and never serving an entry at or
//! past the token's `exp`.
//!
//! Keyed by the whole token, compared byte for byte on lookup, in a map hashed with
//! randomly keyed SipHash: a hit is exact (no digest collision can map a forged token
//! to a cached identity). The tokens stay in worker memory until evicted, as they do
//! in Envoy's own header maps.
//!
//! The caches of verified credentials hash a sample of each key ([`Sampled`]: its length
//! and four 16-byte windows, the last one in a JWT's signature or a sealed session's tag),
//! not all of it: a 1.5 KB session cookie cost 0.9 us of SipHash per request in V8.
//! Only credentials that passed their check are inserted there, so no client can fill a
//! bucket with keys of its choosing; the cache of refused tokens, whose keys clients
//! choose, hashes them whole.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash, Hasher};
use std::rc::Rc;

use hashbrown::{Equivalent, HashMap};

use crate::core::bytes;
use crate::core::identity::Identity;
use crate::core::shared::revoked::Mark;

pub type TokenKey = Rc<str>;

pub fn key_of(token: &str) -> TokenKey {
    Rc::from(token)
}

/// A lookup by `&str`: hashed as the key is, compared eight bytes at a time
/// ([`bytes::same`]) rather than by the C library's byte loop (a 1.5 KB session cost
/// 0.6 us there).
struct Probe<'a>(&'a str);

impl Hash for Probe<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl Equivalent<TokenKey> for Probe<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        bytes::same(self.0.as_bytes(), key.as_bytes())
    }
}

/// What a verified token (or session cookie) gave: the caller's identity, until `exp`
/// (seconds). From `refresh_at` (seconds) on, the caller re-reads the credential (a
/// session's idle window is then extended); bearer tokens use `u64::MAX`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached {
    pub exp: u64,
    pub refresh_at: u64,
    pub identity: Rc<Identity>,
    /// A session's mark, for back-channel logouts (`None` for tokens, or when off).
    pub mark: Option<Mark>,
}

/// What a cache entry needs: until when (seconds) it may be served.
pub trait Lapses: Clone {
    fn exp(&self) -> u64;
}

impl Lapses for Cached {
    fn exp(&self) -> u64 {
        self.exp
    }
}

/// A token the IdP refused (introspection said inactive), remembered until `exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub exp: u64,
    pub error: super::JwtError,
}

impl Lapses for Refused {
    fn exp(&self) -> u64 {
        self.exp
    }
}

/// Hashes a key by its length and four 16-byte windows (start, thirds, end) under a
/// random SipHash key; keys of 64 bytes or less whole.
#[derive(Default, Clone)]
pub struct Sampled(RandomState);

pub struct SampledHasher<H>(H);

impl BuildHasher for Sampled {
    type Hasher = SampledHasher<<RandomState as BuildHasher>::Hasher>;

    fn build_hasher(&self) -> Self::Hasher {
        SampledHasher(self.0.build_hasher())
    }
}

impl<H: Hasher> Hasher for SampledHasher<H> {
    fn write(&mut self, bytes: &[u8]) {
        const W: usize = 16;
        let n = bytes.len();
        if n <= 4 * W {
            self.0.write(bytes);
            return;
        }
        self.0.write_usize(n);
        for at in [0, n / 3, 2 * n / 3, n - W] {
            self.0.write(bytes.get(at..at + W).unwrap_or_default());
        }
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

pub struct TokenCache<V: Lapses = Cached, S: BuildHasher + Default = Sampled> {
    capacity: usize,
    entries: HashMap<TokenKey, V, S>,
    /// Insertion order, for evicting the oldest; may hold keys already dropped.
    order: VecDeque<TokenKey>,
    last_sweep: u64,
}

/// A full cache drops its expired entries at most this often (seconds); in between it
/// evicts the oldest, so inserts do not scan the whole cache each time.
const SWEEP_INTERVAL: u64 = 10;

/// The refused tokens: keys clients choose, hashed whole.
pub type RefusedCache = TokenCache<Refused, RandomState>;

impl<V: Lapses, S: BuildHasher + Default> TokenCache<V, S> {
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            capacity,
            entries: HashMap::with_capacity_and_hasher(capacity.min(4096), S::default()),
            order: VecDeque::new(),
            last_sweep: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A live entry; an expired one is dropped and reported as a miss.
    pub fn get(&mut self, token: &str, now_s: u64) -> Option<V> {
        let entry = self.entries.get(&Probe(token))?;
        if now_s < entry.exp() {
            return Some(entry.clone());
        }
        self.entries.remove(&Probe(token));
        None
    }

    pub fn insert(&mut self, key: TokenKey, value: V, now_s: u64) {
        if self.capacity == 0 || now_s >= value.exp() {
            return;
        }
        // Keys of entries dropped on lookup stay in `order` until swept: sweep whatever the
        // fill level, so `order` never holds more than twice the capacity (amortised O(1)).
        if self.order.len() >= self.capacity.max(32).saturating_mul(2) {
            self.order.retain(|k| self.entries.contains_key(&Probe(k)));
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&Probe(&key)) {
            if now_s >= self.last_sweep.saturating_add(SWEEP_INTERVAL) {
                self.last_sweep = now_s;
                self.entries.retain(|_, v| now_s < v.exp());
            }
            while self.entries.len() >= self.capacity {
                match self.order.pop_front() {
                    Some(old) => {
                        self.entries.remove(&Probe(&old));
                    }
                    None => break,
                }
            }
        }
        if self.entries.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(exp: u64) -> Cached {
        let identity = Identity { headers: vec![("x-user-id".to_string(), "u".to_string())], ..Identity::default() };
        Cached { exp, refresh_at: u64::MAX, identity: Rc::new(identity), mark: None }
    }

    #[test]
    fn never_serves_at_or_past_exp() {
        let mut c: TokenCache = TokenCache::new(4);
        let k = key_of("t");
        c.insert(k.clone(), v(100), 50);
        assert_eq!(c.get("t", 99), Some(v(100)));
        assert_eq!(c.get("t", 100), None);
        assert!(c.is_empty(), "expired entry is dropped");
        c.insert(k, v(100), 100);
        assert!(c.is_empty(), "an already expired token is not cached");
    }

    #[test]
    fn stays_bounded_evicting_expired_then_oldest() {
        let mut c: TokenCache = TokenCache::new(3);
        c.insert(key_of("a"), v(1000), 0);
        c.insert(key_of("b"), v(10), 0);
        c.insert(key_of("c"), v(1000), 0);
        c.insert(key_of("d"), v(1000), 20);
        assert_eq!(c.len(), 3);
        assert!(c.get("a", 20).is_some(), "the expired b went first");
        c.insert(key_of("e"), v(1000), 20);
        assert_eq!(c.len(), 3);
        assert!(c.get("a", 20).is_none(), "then the oldest");
        assert!(c.get("e", 20).is_some());
        for i in 0..100 {
            c.insert(key_of(&i.to_string()), v(1000), 20);
        }
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn tokens_that_lapse_before_the_cache_fills_leave_nothing_behind() {
        // A client that sends each token once more after it expired, under the capacity.
        let mut c: TokenCache = TokenCache::new(1024);
        for i in 0..20_000u64 {
            c.insert(key_of(&format!("token-{i}")), v(i + 1), i);
            assert!(c.get(&format!("token-{i}"), i + 1).is_none());
        }
        assert_eq!(c.len(), 0);
        assert!(c.order.len() <= 2048, "order holds {} stale keys", c.order.len());
    }

    #[test]
    fn keys_alike_in_every_sampled_window_are_still_told_apart() {
        let a = format!("{}{}{}", "x".repeat(100), "A", "y".repeat(100));
        let b = format!("{}{}{}", "x".repeat(100), "B", "y".repeat(100));
        let mut c: TokenCache = TokenCache::new(4);
        c.insert(key_of(&a), v(10), 0);
        assert!(c.get(&a, 0).is_some());
        assert!(c.get(&b, 0).is_none(), "same windows, another key");
        c.insert(key_of(&b), v(10), 0);
        assert_eq!(c.len(), 2);
        let s = Sampled::default();
        assert_eq!(s.hash_one(a.as_str()), s.hash_one(b.as_str()), "the sample skips the middle byte");
        assert_ne!(s.hash_one("short-1"), s.hash_one("short-2"), "short keys are hashed whole");
    }

    #[test]
    fn different_tokens_never_share_an_entry() {
        let mut c: TokenCache = TokenCache::new(4);
        c.insert(key_of("abc"), v(10), 0);
        assert!(c.get("abd", 0).is_none());
        assert!(c.get("ab", 0).is_none());
        let mut c: TokenCache = TokenCache::new(0);
        c.insert(key_of("a"), v(10), 0);
        assert!(c.get("a", 0).is_none(), "capacity 0 disables the cache");
    }
}
