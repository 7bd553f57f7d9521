//! A back-channel logout's body (anyone can post one): `Gate::backchannel_logout` on the
//! scene's gate (discovery and keys loaded), with one shared store kept from run to run,
//! as an Envoy's shared data is under a flood of logouts.
//!
//! Input: the request body as sent (form-encoded: `logout_token=<jwt>`). The seeds carry
//! the scene's signed logout tokens, valid and refused ones, and malformed forms.
//! Properties (besides: nothing panics):
//! - the answer is a local response (never a callout, never a wait): 200 or 400, never cached;
//! - a 200 only for a body whose `logout_token` is one of the scene's valid tokens (the
//!   first three): nothing else ends a session;
//! - shared data changes only with a 200, and the list never grows past its bound;
//! - nothing makes the gate ask the IdP for keys (an unknown `kid` is no reason to fetch).
#![no_main]

use std::cell::{Cell, RefCell};

use libfuzzer_sys::fuzz_target;
use oidc_gate::core::gate::Decision;
use oidc_gate::core::idp::Provider;
use oidc_gate::core::shared::revoked::MAX_LIST_BYTES;
use oidc_gate::core::shared::{LocalStore, SharedStore};
use oidc_gate::core::web::form;
use oidc_gate_fuzz::scene::{with_io, Scene};
use oidc_gate_fuzz::{FixedRng, NOW_MS};

thread_local! {
    static SCENE: Scene = Scene::new();
    static STORE: RefCell<LocalStore> = RefCell::new(LocalStore::default());
    static PROVIDER: Cell<Option<Provider>> = const { Cell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    SCENE.with(|scene| STORE.with(|store| run(scene, &mut store.borrow_mut(), data)));
});

fn run(scene: &Scene, store: &mut LocalStore, data: &[u8]) {
    let mut gate = scene.gate(PROVIDER.take());
    let keys = &scene.config.login.as_ref().and_then(|l| l.backchannel.as_ref()).expect("back-channel on").keys;
    let before = (store.get(&keys.list), store.get(&keys.version));
    let decision = with_io(&mut FixedRng(1), store, |io| gate.backchannel_logout(Some(data), NOW_MS, io));
    let Decision::Respond { response, .. } = decision else { panic!("not a local answer: {decision:?}") };
    assert!(matches!(response.status, 200 | 400), "status {}", response.status);
    assert_eq!(response.header("cache-control"), Some("no-store"));
    if response.status == 200 {
        let token = std::str::from_utf8(data)
            .ok()
            .and_then(|t| form::parse_within(t, usize::MAX))
            .and_then(|p| form::get(&p, "logout_token").map(str::to_string));
        let valid = &scene.logout_tokens[..3];
        assert!(token.is_some_and(|t| valid.contains(&t)), "a 200 for {:?}", String::from_utf8_lossy(data));
    } else {
        assert_eq!((store.get(&keys.list), store.get(&keys.version)), before, "shared data changed by a refusal");
    }
    let list = store.get(&keys.list).map_or(0, |(v, _)| v.len());
    assert!(list <= MAX_LIST_BYTES, "the shared list grew to {list} bytes");
    assert!(!gate.providers[0].busy(), "a logout token made the gate fetch keys");
    PROVIDER.set(Scene::reusable(&mut gate, false));
}
