//! The shell's bounds against the fake host: paused requests and callouts in flight per
//! worker, and a request's total wait.

use proxy_wasm::types::Action;
use serde_json::json;

use super::abi::fake::with;
use super::tests::{api_token, config, Rig, ISS, NOW_MS, ROOT};
use crate::core::testing::keys::{jwks, rsa_a, sign};
use crate::core::token::Alg;

#[test]
fn beyond_max_paused_requests_a_request_gets_503_at_once() {
    use super::paused::MAX_PAUSED;
    let (mut rig, _) = Rig::start(&config(json!({})));
    let auth = format!("Bearer {}", api_token());
    for id in 0..MAX_PAUSED as u32 {
        assert_eq!(rig.request(10 + id, &[(":path", b"/a"), ("authorization", auth.as_bytes())]), Action::Pause);
    }
    let over = 10 + MAX_PAUSED as u32;
    assert_eq!(rig.request(over, &[(":path", b"/a"), ("authorization", auth.as_bytes())]), Action::Pause);
    assert_eq!(rig.reply(over).map(|r| r.status), Some(503), "answered at once, not paused");
    // The paused ones are all let through once the keys come.
    rig.load_keys();
    assert_eq!(with(|h| h.resumed.len()), MAX_PAUSED);
}

#[test]
fn beyond_max_callouts_in_flight_a_request_is_answered_as_if_the_idp_had_not() {
    use super::paused::MAX_CALLOUTS;
    let (mut rig, _) = Rig::start(&config(json!({"client_secret": "s3cret", "bearer": {"audiences": ["api"],
        "introspection": {}, "client_ids": ["web"]}})));
    let doc = json!({"issuer": ISS, "jwks_uri": "https://idp.example.com/jwks",
        "introspection_endpoint": "https://idp.example.com/introspect"});
    rig.answer(0, 200, &doc.to_string());
    rig.answer(1, 200, &jwks(&[(&rsa_a(), "k1")]));
    let fetches = with(|h| h.callouts.len());
    let opaque = |n: u32| format!("Bearer opaque-token-number-{n:06}");
    for n in 0..MAX_CALLOUTS as u32 {
        assert_eq!(rig.request(10 + n, &[(":path", b"/a"), ("authorization", opaque(n).as_bytes())]), Action::Pause);
    }
    assert_eq!(with(|h| h.callouts.len()) - fetches, MAX_CALLOUTS);
    let over = 10 + MAX_CALLOUTS as u32;
    assert_eq!(rig.request(over, &[(":path", b"/a"), ("authorization", opaque(over).as_bytes())]), Action::Pause);
    assert_eq!(rig.reply(over).map(|r| r.status), Some(503));
    assert_eq!(with(|h| h.callouts.len()) - fetches, MAX_CALLOUTS, "no callout made for it");
    // One answer (and one request gone) free two places.
    let active = json!({"active": true, "sub": "svc", "client_id": "web", "exp": NOW_MS / 1000 + 60}).to_string();
    rig.answer(fetches, 200, &active);
    rig.https.get_mut(&11).unwrap().on_log();
    for n in [over + 1, over + 2] {
        assert_eq!(rig.request(n, &[(":path", b"/a"), ("authorization", opaque(n).as_bytes())]), Action::Pause);
        assert!(rig.reply(n).is_none(), "a callout again");
    }
    assert_eq!(with(|h| h.callouts.len()) - fetches, MAX_CALLOUTS + 2);
    // The refused token was never asked about: nothing recorded it as the IdP's failure,
    // and its slot is free. With room again, it is asked about at once.
    assert_eq!(rig.counter("oidc_gate.idp.introspection_failure"), 0);
    let again = over + 10;
    rig.answer(fetches + 2, 200, &active);
    assert_eq!(rig.request(again, &[(":path", b"/a"), ("authorization", opaque(over).as_bytes())]), Action::Pause);
    assert!(rig.reply(again).is_none(), "a callout, not a 503 from a failed slot");
    assert_eq!(with(|h| h.callouts.len()) - fetches, MAX_CALLOUTS + 3);
}

/// A token of the configured issuer naming a key the JWKS never has.
fn unknown_kid_token() -> String {
    sign(
        &rsa_a(),
        Alg::RS256,
        "never-published",
        &json!({"iss": ISS, "sub": "u1", "aud": "api", "exp": NOW_MS / 1000 + 300}),
    )
}

#[test]
fn a_request_naming_a_key_that_never_comes_is_answered_within_startup_wait() {
    // Found in review: with a short jwks_refetch_min_interval, each settled re-fetch let the
    // request wait again for the next one, with a fresh start time: it could wait forever.
    let (mut rig, _) = Rig::start(&config(json!({"jwks_refetch_min_interval": "0s", "startup_wait": "2s"})));
    rig.load_keys();
    let auth = format!("Bearer {}", unknown_kid_token());
    assert_eq!(rig.request(2, &[(":path", b"/a"), ("authorization", auth.as_bytes())]), Action::Pause);
    for _ in 0..50 {
        if rig.reply(2).is_some() {
            break;
        }
        rig.tick();
        let (n, c) = rig.last_callout();
        if c.context == ROOT && c.headers.iter().any(|(k, v)| k == ":path" && v == "/jwks") {
            rig.answer(n, 200, &jwks(&[(&rsa_a(), "k1")]));
        }
        with(|h| h.now_ns += 300_000_000);
    }
    let status = rig.reply(2).map(|r| r.status);
    assert!(matches!(status, Some(401 | 503)), "answered, not left waiting: {status:?}");
}
