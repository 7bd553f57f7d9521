//! The `Cookie` header, as a client sends it: `web::cookies::{parse, get, without}`, the
//! filter's own cookie names, and the sealed session (`session::sealed_value` and
//! `read_sealed` under the fixture's two keys).
//!
//! Input: the header's bytes (lossy UTF-8, as the host hands them over).
//! Properties:
//! - nothing panics;
//! - `get` returns a slice of the header; `without` keeps only parts of the header, and
//!   none of them is the filter's own (`owns`); `split` (the one pass the gate makes)
//!   finds exactly what `get` and `without` find; `ours_in`/`sessions_in` name at most
//!   `MAX_OWN_COOKIES` cookies, each of the filter's exact shapes;
//! - a sealed value that opens is one the fixture sealed (AEAD: nothing else opens), and
//!   its session is the one sealed;
//! - what opens re-seals, and the new cookie opens to the same session (same state).
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use oidc_gate::core::session::names::MAX_OWN_COOKIES;
use oidc_gate::core::session::{self, SessionState};
use oidc_gate::core::web::cookies;
use oidc_gate_fuzz::scene::{cookie_header, session_config, Scene};
use oidc_gate_fuzz::{FixedRng, NOW_S};

thread_local! {
    static SCENE: Scene = Scene::new();
}

fuzz_target!(|data: &[u8]| {
    SCENE.with(|scene| run(scene, data));
});

/// `part` is a slice of `whole` (not a copy from elsewhere).
fn within(whole: &str, part: &str) -> bool {
    let (w, p) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    p >= w && p + part.len() <= w + whole.len()
}

fn run(scene: &Scene, data: &[u8]) {
    let header = String::from_utf8_lossy(data);
    let header = header.as_ref();
    let config = session_config(&scene.config);
    let names = &config.cookies;

    let parts: HashSet<&str> = header.split(';').map(str::trim_ascii).collect();
    for (name, value) in cookies::parse(header) {
        assert!(within(header, name) && within(header, value), "parse made up {name:?}={value:?}");
    }
    for name in [names.session(), &names.chunk(0), "a", ""] {
        if let Some(v) = cookies::get(header, name) {
            assert!(within(header, v), "get({name:?}) made up {v:?}");
        }
    }
    let without = cookies::without(header, |n| names.owns(n));
    if let cookies::Without::Rest(rest) = &without {
        for part in rest.split("; ") {
            assert!(parts.contains(&part), "without made up {part:?} from {header:?}");
            let name = part.split_once('=').map_or(part, |(n, _)| n.trim_ascii());
            assert!(!names.owns(name), "without kept our cookie {name:?}");
        }
    }
    if without == cookies::Without::Unchanged {
        assert!(cookies::parse(header).all(|(n, _)| !names.owns(n)), "without left our cookie in {header:?}");
    }
    let split = cookies::split(header, |n| names.owns(n), Some(names.session()));
    assert_eq!(split.rest, without, "split and without differ on {header:?}");
    let named = split.named.map(|r| header.get(r).expect("split's range is in the header"));
    assert_eq!(named, cookies::get(header, names.session()), "split and get differ on {header:?}");
    let ours = names.ours_in(Some(header));
    assert!(ours.len() <= MAX_OWN_COOKIES && ours.iter().all(|n| names.is_session(n) || names.is_flow(n)));
    let sessions = names.sessions_in(Some(header));
    assert!(sessions.len() <= MAX_OWN_COOKIES && sessions.iter().all(|n| names.is_session(n)));

    let sealed = session::sealed_value(config, header);
    let state = session::read_sealed(config, sealed.as_deref(), NOW_S);
    let SessionState::Valid { session, reissue } = state else { return };
    let value = sealed.as_deref().unwrap_or_default();
    let known = scene.sessions.iter().find(|(_, v)| v == value);
    let Some((sealed_session, _)) = known else { panic!("a value the fixture never sealed opened: {value:?}") };
    assert!(*sealed_session == session, "opened to another session than was sealed");

    // Re-seal what opened: the new cookie must open to the same session.
    let set = session::write(config, &session, &[], &mut FixedRng(data.len() as u8)).expect("a valid session re-seals");
    let again = cookie_header(&set);
    let reopened = session::read(config, Some(&again), NOW_S);
    assert_eq!(reopened, SessionState::Valid { session, reissue }, "re-sealed session opens differently");
}
