//! The per-worker verified-token cache: bounded, and never serving an entry at or
//! past the token's `exp`.
//!
//! Keyed by the whole token, compared byte for byte on lookup, in a map hashed with
//! randomly keyed SipHash: a hit is exact (no digest collision can map a forged token
//! to a cached identity) and costs about a third of a SHA-256 of the token (measured
//! with scripts/bench). The tokens stay in worker memory until evicted, as they do
//! in Envoy's own header maps.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use crate::core::identity::Identity;
use crate::core::shared::revoked::Mark;

pub type TokenKey = Rc<str>;

pub fn key_of(token: &str) -> TokenKey {
    Rc::from(token)
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

pub struct TokenCache<V: Lapses = Cached> {
    capacity: usize,
    entries: HashMap<TokenKey, V>,
    /// Insertion order, for evicting the oldest; may hold keys already dropped.
    order: VecDeque<TokenKey>,
    last_sweep: u64,
}

/// A full cache drops its expired entries at most this often (seconds); in between it
/// evicts the oldest, so inserts do not scan the whole cache each time.
const SWEEP_INTERVAL: u64 = 10;

impl<V: Lapses> TokenCache<V> {
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            capacity,
            entries: HashMap::with_capacity(capacity.min(4096)),
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
        let entry = self.entries.get(token)?;
        if now_s < entry.exp() {
            return Some(entry.clone());
        }
        self.entries.remove(token);
        None
    }

    pub fn insert(&mut self, key: TokenKey, value: V, now_s: u64) {
        if self.capacity == 0 || now_s >= value.exp() {
            return;
        }
        // Keys of entries dropped on lookup stay in `order` until swept: sweep whatever the
        // fill level, so `order` never holds more than twice the capacity (amortised O(1)).
        if self.order.len() >= self.capacity.max(32).saturating_mul(2) {
            self.order.retain(|k| self.entries.contains_key(k));
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&*key) {
            if now_s >= self.last_sweep.saturating_add(SWEEP_INTERVAL) {
                self.last_sweep = now_s;
                self.entries.retain(|_, v| now_s < v.exp());
            }
            while self.entries.len() >= self.capacity {
                match self.order.pop_front() {
                    Some(old) => {
                        self.entries.remove(&*old);
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
