//! The ring under load: what a miss costs in host reads as it fills, and two workers
//! interleaving at every read (a security review's tests of the 16-slot lookup that stops
//! at the first slot never written).

use super::*;
use crate::core::shared::LocalStore;

fn identity(user: &str) -> Identity {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user));
    Identity { headers: vec![("x-user-id".into(), user.into())], claims, ..Identity::default() }
}

/// The lookup before 9dc2ab8 (a slot never written is skipped), over `probes` slots.
fn get_skipping(
    store: &mut dyn SharedStore,
    scope: &Scope,
    d: &Digest32,
    now_s: u64,
    probes: u64,
) -> Option<(u64, Identity)> {
    let base = first_slot(d);
    for probe in 0..probes {
        let Some((value, _)) = store.get(&slot_key((base + probe) % SLOTS)) else { continue };
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

/// Counts host reads.
#[derive(Default)]
struct Counting {
    inner: LocalStore,
    reads: usize,
}

impl SharedStore for Counting {
    fn get(&mut self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.reads += 1;
        self.inner.get(key)
    }
    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> bool {
        self.inner.set(key, value, cas)
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const A: Scope = [1; 16];

fn miss_cost(store: &mut Counting, tries: u64) -> (f64, usize) {
    let mut max = 0;
    let before = store.reads;
    for i in 0..tries {
        let r = store.reads;
        assert!(get(store, &A, &digest(&format!("garbage-{i}")), 5000).is_none());
        max = max.max(store.reads - r);
    }
    ((store.reads - before) as f64 / tries as f64, max)
}

#[test]
fn a_miss_reads_one_or_two_slots_until_the_ring_fills_and_never_more_than_probes() {
    let mut store = Counting::default();
    let mut put_so_far = 0u64;
    for n in [10_000u64, 20_000, 40_000] {
        for i in put_so_far..n {
            put(&mut store, &A, &digest(&format!("t{i}")), 1000, &identity("u"), 0);
        }
        put_so_far = n;
        let (mean, max) = miss_cost(&mut store, 2000);
        assert!(max <= PROBES as usize, "{n} tokens: a miss read {max} slots");
        if n == 10_000 {
            assert!(mean < 2.0, "10,000 tokens: a miss read {mean:.2} slots on average");
        }
    }
    // Every token lapsed long ago: slots are never emptied, a miss still reads at most 16.
    let (_, max) = miss_cost(&mut store, 2000);
    assert!(max <= PROBES as usize);
}

/// Two workers interleave at every host read; the ring overflows; tokens lapse; one worker's
/// keys rotate. Every hit is this token's identity under this scope, before its exp, and
/// the lookup finds exactly what one that skips unwritten slots finds.
#[test]
fn interleaved_workers_never_get_another_tokens_or_scopes_identity_and_lose_nothing() {
    struct Interleaved {
        inner: LocalStore,
        rng: Rng,
        other: Vec<(Scope, u64)>,
        now: u64,
    }
    fn exp_of(i: u64) -> u64 {
        1 + (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 5000
    }
    fn who(i: u64, s: &Scope) -> Identity {
        identity(&format!("{i}/{}", s[0]))
    }
    impl SharedStore for Interleaved {
        fn get(&mut self, key: &str) -> Option<(Vec<u8>, u32)> {
            // Between two reads of this worker, the other shares a token.
            if self.rng.next() % 3 == 0 {
                if let Some((s, i)) = self.other.pop() {
                    put(&mut self.inner, &s, &digest(&format!("p{i}")), exp_of(i), &who(i, &s), self.now);
                }
            }
            self.inner.get(key)
        }
        fn set(&mut self, key: &str, value: &[u8], cas: u32) -> bool {
            self.inner.set(key, value, cas)
        }
    }
    let mut store = Interleaved { inner: LocalStore::default(), rng: Rng(7), other: Vec::new(), now: 0 };
    let mut rng = Rng(99);
    let (mut hits, mut checked) = (0, 0);
    for op in 0..400_000u64 {
        store.now = op / 100;
        let now = store.now;
        // Worker 1's keys rotate half-way (scope 1 then 3); worker 2 is scope 2, or 1 for a while.
        let scope1: Scope = if op < 200_000 { [1; 16] } else { [3; 16] };
        let scope2: Scope = if (100_000..150_000).contains(&op) { [1; 16] } else { [2; 16] };
        let pick = |r: u64| if r % 2 == 0 { r % 3000 } else { r % 60_000 };
        let i = pick(rng.next());
        store.other.push((scope2, pick(rng.next())));
        let d = digest(&format!("p{i}"));
        let got = get(&mut store, &scope1, &d, now);
        let skipping = get_skipping(&mut store.inner, &scope1, &d, now, PROBES);
        checked += 1;
        if let Some((exp, id)) = &got {
            hits += 1;
            assert_eq!(*exp, exp_of(i));
            assert!(now < *exp, "served at {now}, past exp {exp}");
            assert_eq!(*id, who(i, &scope1), "another token's or scope's identity");
        }
        assert_eq!(got.is_some(), skipping.is_some(), "reachability differs for p{i} at op {op}");
        if got.is_none() && now < exp_of(i) {
            put(&mut store, &scope1, &d, exp_of(i), &who(i, &scope1), now);
        }
    }
    eprintln!("{checked} lookups, {hits} hits");
}
