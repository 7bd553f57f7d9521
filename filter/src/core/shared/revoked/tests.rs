use super::*;
use crate::core::shared::LocalStore;

const NOW: u64 = 1_800_000_000;
const LIFETIME: u64 = 8 * 3600;

fn keys() -> RevocationKeys {
    RevocationKeys::new("https://idp.example.com\nweb")
}

fn logout(jti: &str, ends: &[(Kind, &str)]) -> Logout {
    Logout {
        jti: key(Kind::Jti, jti),
        iat: NOW,
        jti_until: NOW + 61,
        ends: ends.iter().map(|(k, v)| (*k, key(*k, v))).collect(),
        until: NOW + LIFETIME,
        sub: None,
    }
}

/// A worker's copy, brought up to date.
fn copy(store: &mut LocalStore) -> Revocations {
    let mut r = Revocations::default();
    r.sync(store, &keys());
    r
}

/// A store that counts reads of each key, and refuses the first `refuse` writes.
#[derive(Default)]
struct Counting {
    inner: LocalStore,
    reads: HashMap<String, usize>,
    refuse: usize,
}

impl SharedStore for Counting {
    fn get(&mut self, key: &str) -> Option<(Vec<u8>, u32)> {
        *self.reads.entry(key.to_string()).or_default() += 1;
        self.inner.get(key)
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> bool {
        if self.refuse > 0 && cas != 0 {
            self.refuse -= 1;
            return false;
        }
        self.inner.set(key, value, cas)
    }
}

#[test]
fn a_logout_by_sid_ends_that_idp_session_only_and_only_sessions_begun_before_it() {
    let mut store = LocalStore::default();
    create(&mut store, &keys());
    assert_eq!(
        record(&mut store, &keys(), &logout("j1", &[(Kind::Sid, "s1")]), NOW),
        Ok(Recorded { overflowed: false })
    );
    let r = copy(&mut store);
    assert!(r.ended(&Mark::new(NOW - 10, "alice", Some("s1")), NOW));
    assert!(r.ended(&Mark::new(NOW, "alice", Some("s1")), NOW + 5), "begun in the second of the logout");
    assert!(!r.ended(&Mark::new(NOW - 10, "alice", Some("s2")), NOW), "another IdP session of alice");
    assert!(!r.ended(&Mark::new(NOW - 10, "alice", None), NOW), "a session without sid");
    assert!(!r.ended(&Mark::new(NOW + 1, "alice", Some("s1")), NOW + 5), "a login after the logout");
    assert!(!r.ended(&Mark::new(NOW - 10, "alice", Some("s1")), NOW + LIFETIME), "past every session's end");
}

#[test]
fn a_logout_by_sub_ends_every_session_of_the_sub_and_sid_with_sub_ends_sidless_ones() {
    let mut store = LocalStore::default();
    create(&mut store, &keys());
    record(&mut store, &keys(), &logout("j1", &[(Kind::Sub, "alice")]), NOW).unwrap();
    record(&mut store, &keys(), &logout("j2", &[(Kind::Sid, "s9"), (Kind::SidlessSub, "bob")]), NOW).unwrap();
    let r = copy(&mut store);
    assert!(r.ended(&Mark::new(NOW - 10, "alice", Some("any")), NOW));
    assert!(r.ended(&Mark::new(NOW - 10, "alice", None), NOW));
    assert!(r.ended(&Mark::new(NOW - 10, "bob", None), NOW), "bob's sessions without sid");
    assert!(!r.ended(&Mark::new(NOW - 10, "bob", Some("s8")), NOW), "bob's other IdP session");
    assert!(r.ended(&Mark::new(NOW - 10, "bob", Some("s9")), NOW));
    assert!(!r.ended(&Mark::new(NOW - 10, "carol", None), NOW));
    // A sid and a sub are different things even when their text is the same.
    assert!(!r.ended(&Mark::new(NOW - 10, "carol", Some("alice")), NOW));
}

#[test]
fn a_used_jti_is_refused_and_changes_nothing() {
    let mut store = LocalStore::default();
    create(&mut store, &keys());
    record(&mut store, &keys(), &logout("j1", &[(Kind::Sid, "s1")]), NOW).unwrap();
    let before = store.get(&keys().list).unwrap().0;
    let replay = logout("j1", &[(Kind::Sub, "alice")]);
    assert_eq!(record(&mut store, &keys(), &replay, NOW + 30), Err(RecordError::Replayed));
    assert_eq!(store.get(&keys().list).unwrap().0, before, "nothing recorded");
    assert!(!copy(&mut store).ended(&Mark::new(NOW - 10, "alice", Some("s2")), NOW + 30));
    // Once its iat is too old to pass anyway, its jti is forgotten (bounded memory).
    record(&mut store, &keys(), &logout("j2", &[(Kind::Sid, "s2")]), NOW + 61).unwrap();
    assert_eq!(List::decode(&store.get(&keys().list).unwrap().0).entries.len(), 3, "j1's jti gone; s1, j2, s2 stay");
}

#[test]
fn a_worker_reads_the_list_only_when_its_version_changed() {
    let mut store = Counting::default();
    create(&mut store, &keys());
    let mut r = Revocations::default();
    r.sync(&mut store, &keys());
    let list_reads = |s: &Counting| s.reads.get(&keys().list).copied().unwrap_or(0);
    let after_first = list_reads(&store);
    for _ in 0..100 {
        r.sync(&mut store, &keys());
    }
    assert_eq!(list_reads(&store), after_first, "an unchanged version: the list is not read");
    assert!(r.is_empty_at(NOW));
    record(&mut store, &keys(), &logout("j1", &[(Kind::Sid, "s1")]), NOW).unwrap();
    let after_logout = list_reads(&store);
    r.sync(&mut store, &keys());
    assert_eq!(list_reads(&store), after_logout + 1, "read once after the logout");
    assert!(r.ended(&Mark::new(NOW - 1, "alice", Some("s1")), NOW));
    r.sync(&mut store, &keys());
    assert_eq!(list_reads(&store), after_logout + 1);
}

#[test]
fn writers_compare_and_swap_and_give_up_when_the_list_keeps_changing() {
    let mut store = Counting { refuse: 3, ..Counting::default() };
    create(&mut store, &keys());
    assert!(record(&mut store, &keys(), &logout("j1", &[(Kind::Sid, "s1")]), NOW).is_ok(), "retried");
    let mut busy = Counting { refuse: 1000, ..Counting::default() };
    create(&mut busy, &keys());
    assert_eq!(record(&mut busy, &keys(), &logout("j1", &[(Kind::Sid, "s1")]), NOW), Err(RecordError::Busy));
    // Never created (a worker raced the very first start): created, then written.
    let mut fresh = LocalStore::default();
    assert!(record(&mut fresh, &keys(), &logout("j1", &[(Kind::Sid, "s1")]), NOW).is_ok());
    assert!(copy(&mut fresh).ended(&Mark::new(NOW, "a", Some("s1")), NOW));
}

#[test]
fn a_full_list_fails_safe_every_older_session_ends_and_older_tokens_are_refused() {
    let mut store = LocalStore::default();
    create(&mut store, &keys());
    // Full but for one entry, of logouts still live.
    let entry = |n: usize| Entry {
        kind: Kind::Sid,
        key: key(Kind::Sid, &format!("s{n}")),
        at: NOW - 5,
        until: NOW + LIFETIME,
        sub: None,
    };
    let full = List { entries: (0..MAX_ENTRIES - 1).map(entry).collect(), ..List::default() };
    let cas = store.get(&keys().list).unwrap().1;
    assert!(store.set(&keys().list, &full.encode(), cas));
    let out = record(&mut store, &keys(), &logout("j1", &[(Kind::Sid, "last")]), NOW).unwrap();
    assert!(out.overflowed, "a jti and a sid: one entry too many");
    assert!(store.get(&keys().list).unwrap().0.len() <= MAX_LIST_BYTES);
    let r = copy(&mut store);
    assert!(r.ended(&Mark::new(NOW, "anyone", None), NOW + 1), "every session begun until then");
    assert!(!r.ended(&Mark::new(NOW + 1, "anyone", None), NOW + 1), "later logins live");
    assert!(!r.ended(&Mark::new(NOW, "anyone", None), NOW + LIFETIME), "until no such session can live");
    assert_eq!(record(&mut store, &keys(), &logout("new", &[(Kind::Sid, "x")]), NOW), Err(RecordError::Replayed));
    let later = Logout { iat: NOW + 1, ..logout("later", &[(Kind::Sid, "x")]) };
    assert!(record(&mut store, &keys(), &later, NOW + 1).is_ok());
    assert!(copy(&mut store).ended(&Mark::new(NOW, "b", Some("x")), NOW + 1));
}

#[test]
fn one_persons_many_logouts_end_that_persons_sessions_not_everyones() {
    // Anyone with an account can sign in and out at the IdP in a loop: each time the IdP
    // posts a logout token for a new `sid` of the same `sub`. Filling the list that way
    // must not end every other person's session.
    let mut store = LocalStore::default();
    create(&mut store, &keys());
    let mallory = Some(key(Kind::Sub, "mallory"));
    let entry = |n: usize| Entry {
        kind: if n % 2 == 0 { Kind::Sid } else { Kind::SidlessSub },
        key: if n % 2 == 0 { key(Kind::Sid, &format!("m{n}")) } else { key(Kind::SidlessSub, "mallory") },
        at: NOW - 5,
        until: NOW + LIFETIME,
        sub: mallory,
    };
    let full = List { entries: (0..MAX_ENTRIES - 1).map(entry).collect(), ..List::default() };
    let cas = store.get(&keys().list).unwrap().1;
    assert!(store.set(&keys().list, &full.encode(), cas));
    let last = Logout { sub: mallory, ..logout("j1", &[(Kind::Sid, "m-last"), (Kind::SidlessSub, "mallory")]) };
    let out = record(&mut store, &keys(), &last, NOW).unwrap();
    assert!(!out.overflowed, "one person's logouts fit in one entry");
    let r = copy(&mut store);
    assert!(!r.ended(&Mark::new(NOW - 60, "alice", Some("a1")), NOW + 1), "alice's session lives");
    assert!(r.ended(&Mark::new(NOW - 60, "mallory", Some("m-other")), NOW + 1), "mallory's sessions end");
    assert!(r.ended(&Mark::new(NOW, "mallory", None), NOW + 1));
    assert!(!r.ended(&Mark::new(NOW + 1, "mallory", Some("m-new")), NOW + 1), "a later login of mallory lives");
    assert!(store.get(&keys().list).unwrap().0.len() < 200, "the list is small again");
    assert_eq!(record(&mut store, &keys(), &last, NOW), Err(RecordError::Replayed), "its jti is remembered");
    // A person with one logout keeps the exact entries: their other IdP sessions live.
    let mut list = List { entries: (0..MAX_ENTRIES + 1).map(entry).collect(), ..List::default() };
    let bob = Some(key(Kind::Sub, "bob"));
    let one = |kind, value| Entry { kind, key: key(kind, value), at: NOW - 5, until: NOW + LIFETIME, sub: bob };
    list.entries.extend([one(Kind::Sid, "b1"), one(Kind::SidlessSub, "bob")]);
    list.compact();
    assert_eq!(list.entries.len(), 3, "mallory's one Sub entry, and bob's two as they were: {:?}", list.entries);
    assert!(list.entries.iter().any(|e| e.kind == Kind::Sid && e.key == key(Kind::Sid, "b1")));
}

#[test]
fn garbage_in_shared_data_reads_as_no_logouts() {
    let mut store = LocalStore::default();
    for junk in [&b"junk"[..], b"", &[FORMAT; 3], &[FORMAT; 200]] {
        store.set(&keys().list, junk, 0);
        store.set(&keys().version, &[1, 2, 3], 0);
        let r = copy(&mut store);
        assert!(!r.ended(&Mark::new(0, "", None), NOW), "{junk:?}");
    }
    assert_eq!(List::decode(&List::default().encode()), List::default());
}
