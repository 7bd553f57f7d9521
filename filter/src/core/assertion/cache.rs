//! Signed assertions, per worker, keyed by the identity they are about.
//!
//! The credential caches (verified tokens, opened session cookies) hand out the same
//! `Rc<Identity>` for every request with the same credential, so the identity's address
//! is the key: a hit costs one integer-keyed lookup and a reference-count increment, and
//! copies nothing. Each entry holds its identity, so no other identity can take that
//! address while the entry lives. With the request's origin as `iss`, the entry also
//! holds the origin it was signed for, and is used only for that origin.

use std::collections::HashMap;
use std::rc::Rc;

use crate::core::identity::Identity;

struct Entry {
    identity: Rc<Identity>,
    /// `scheme://authority` when `iss` is the request's origin.
    origin: Option<Box<str>>,
    jwt: Rc<str>,
    /// From this time (seconds) on, a new assertion is signed.
    renew_at: u64,
}

pub struct Assertions {
    capacity: usize,
    entries: HashMap<usize, Entry>,
}

/// The request's origin as its parts, compared without building a string. The authority
/// is compared without regard to case: entries hold the checked, lower-cased origin, and
/// a request's `Host` is looked up as sent.
#[derive(Clone, Copy)]
pub struct OriginParts<'a> {
    pub scheme: &'a str,
    pub authority: &'a str,
}

impl OriginParts<'_> {
    fn is(&self, origin: &str) -> bool {
        origin
            .strip_prefix(self.scheme)
            .and_then(|rest| rest.strip_prefix("://"))
            .is_some_and(|authority| authority.eq_ignore_ascii_case(self.authority))
    }

    pub fn to_origin(self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }
}

impl Assertions {
    pub fn new(capacity: usize) -> Self {
        Assertions { capacity, entries: HashMap::with_capacity(capacity.min(4096)) }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The assertion signed for this identity (and origin), unless it is due for renewal.
    pub fn get(&self, identity: &Rc<Identity>, origin: Option<OriginParts<'_>>, now_s: u64) -> Option<Rc<str>> {
        let entry = self.entries.get(&(Rc::as_ptr(identity) as usize))?;
        let same_origin = match (origin, entry.origin.as_deref()) {
            (None, None) => true,
            (Some(parts), Some(signed_for)) => parts.is(signed_for),
            _ => false,
        };
        (same_origin && now_s < entry.renew_at && Rc::ptr_eq(&entry.identity, identity)).then(|| entry.jwt.clone())
    }

    /// Keeps an assertion. A full cache first drops what is due for renewal or about an
    /// identity no credential cache holds any more; if that frees nothing, it starts over.
    pub fn insert(
        &mut self,
        identity: Rc<Identity>,
        origin: Option<OriginParts<'_>>,
        jwt: Rc<str>,
        renew_at: u64,
        now_s: u64,
    ) {
        if self.capacity == 0 || now_s >= renew_at {
            return;
        }
        let key = Rc::as_ptr(&identity) as usize;
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.retain(|_, e| now_s < e.renew_at && Rc::strong_count(&e.identity) > 1);
            if self.entries.len() >= self.capacity {
                self.entries.clear();
            }
        }
        let origin = origin.map(|o| o.to_origin().into_boxed_str());
        self.entries.insert(key, Entry { identity, origin, jwt, renew_at });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(sub: &str) -> Rc<Identity> {
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), sub.into());
        Rc::new(Identity { claims, ..Identity::default() })
    }

    const HERE: OriginParts<'static> = OriginParts { scheme: "https", authority: "app.example" };

    #[test]
    fn a_signed_assertion_is_reused_for_its_identity_and_origin_until_renewal() {
        let mut c = Assertions::new(4);
        let alice = identity("alice");
        c.insert(alice.clone(), Some(HERE), Rc::from("jwt-a"), 175, 100);
        assert_eq!(c.get(&alice, Some(HERE), 174).as_deref(), Some("jwt-a"));
        let shouted = OriginParts { scheme: "https", authority: "APP.example" };
        assert_eq!(c.get(&alice, Some(shouted), 174).as_deref(), Some("jwt-a"), "a Host's case does not matter");
        assert_eq!(c.get(&alice, Some(HERE), 175), None, "due for renewal");
        let elsewhere = OriginParts { scheme: "https", authority: "other.example" };
        assert_eq!(c.get(&alice, Some(elsewhere), 100), None, "signed for another origin");
        assert_eq!(c.get(&alice, Some(OriginParts { scheme: "http", ..HERE }), 100), None);
        assert_eq!(c.get(&alice, None, 100), None);
        let same_claims = identity("alice");
        assert_eq!(c.get(&same_claims, Some(HERE), 100), None, "another identity object is another key");
        c.insert(alice.clone(), None, Rc::from("jwt-fixed"), 175, 100);
        assert_eq!(c.get(&alice, None, 100).as_deref(), Some("jwt-fixed"));
    }

    #[test]
    fn it_stays_bounded_and_keeps_the_identities_still_in_use() {
        let mut c = Assertions::new(3);
        let kept = identity("kept");
        c.insert(kept.clone(), None, Rc::from("k"), 1000, 0);
        for n in 0..100 {
            // Identities nobody else holds: dropped first when the cache is full.
            c.insert(identity(&n.to_string()), None, Rc::from("x"), 1000, 0);
            assert!(c.len() <= 3);
        }
        assert_eq!(c.get(&kept, None, 0).as_deref(), Some("k"));
        let mut off = Assertions::new(0);
        off.insert(kept.clone(), None, Rc::from("k"), 1000, 0);
        assert!(off.is_empty());
    }
}
