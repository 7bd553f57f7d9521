//! A back-channel logout through the shell: its body is buffered to its end (and never
//! beyond the limit), then answered; the session it names is refused afterwards.

use proxy_wasm::traits::RootContext;
use proxy_wasm::types::Action;
use serde_json::json;

use super::abi::fake::with;
use super::tests::{config, Rig, ISS, NOW_MS};
use crate::core::login::backchannel::{EVENT, MAX_BODY};
use crate::core::testing::keys::{rsa_a, sign_with_header};
use crate::core::web::form;

const PATH: &str = "/oauth2/backchannel-logout";

fn site() -> Rig {
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [6u8; 32]);
    let (mut rig, ok) = Rig::start(&config(json!({"client_secret": "s3cret", "session": {"keys": [key]},
        "backchannel_logout_path": PATH})));
    assert!(ok);
    rig.load_keys();
    rig
}

fn body(jti: &str) -> String {
    let claims = json!({"iss": ISS, "aud": "web", "iat": NOW_MS / 1000, "jti": jti, "sid": "s1",
        "events": {EVENT: {}}});
    let token = sign_with_header(&rsa_a(), json!({"alg": "RS256", "kid": "k1", "typ": "logout+jwt"}), &claims);
    form::serialize(&[("logout_token", &token)])
}

/// Starts a POST to the endpoint whose body is still to come.
fn start(rig: &mut Rig, id: u32) -> Action {
    with(|h| {
        h.current = id;
        h.active = id;
        let headers: [(&str, &[u8]); 6] = [
            (":path", PATH.as_bytes()),
            (":method", b"POST"),
            ("content-type", b"application/x-www-form-urlencoded"),
            ("x-user-id", b"admin"),
            ("cookie", b"a=b"),
            ("authorization", b"Bearer x"),
        ];
        h.request_headers.insert(id, headers.iter().map(|(n, v)| (n.to_string(), v.to_vec())).collect());
    });
    let mut http = rig.root.create_http_context(id).unwrap();
    let action = http.on_http_request_headers(6, false);
    rig.https.insert(id, http);
    action
}

/// The body so far (`whole` of it buffered by the host) arrives.
fn arrive(rig: &mut Rig, id: u32, whole: &[u8], end: bool) -> Action {
    with(|h| {
        h.current = id;
        h.request_body.insert(id, whole.to_vec());
    });
    rig.https.get_mut(&id).unwrap().on_http_request_body(whole.len(), end)
}

#[test]
fn the_body_is_buffered_to_its_end_then_the_logout_is_answered() {
    let mut rig = site();
    // Proxy-Wasm gives the body only to a filter that lets the headers go on: they do,
    // with nothing that could pass for an identity.
    assert_eq!(start(&mut rig, 2), Action::Continue);
    for name in ["x-user-id", "cookie", "authorization"] {
        assert!(with(|h| h.request_headers[&2].iter().all(|(n, _)| n != name)), "{name} went on");
    }
    let b = body("j1");
    assert_eq!(arrive(&mut rig, 2, &b.as_bytes()[..100], false), Action::Pause);
    assert!(rig.reply(2).is_none(), "nothing answered before the body's end");

    assert_eq!(arrive(&mut rig, 2, b.as_bytes(), true), Action::Pause);
    let reply = rig.reply(2).unwrap();
    assert_eq!((reply.status, reply.header("cache-control")), (200, Some("no-store")));
    assert_eq!(rig.counter("oidc_gate.backchannel_logout.accepted"), 1);
    // The same token again: a replay.
    start(&mut rig, 3);
    arrive(&mut rig, 3, b.as_bytes(), true);
    assert_eq!(rig.reply(3).map(|r| r.status), Some(400));
}

#[test]
fn a_route_that_answers_before_the_body_becomes_a_503_and_no_logout_is_taken() {
    let mut rig = site();
    start(&mut rig, 2);
    with(|h| h.response_headers.insert(2, vec![(":status".into(), "200".into())]));
    assert_eq!(rig.https.get_mut(&2).unwrap().on_http_response_headers(1, false), Action::Continue);
    let status = with(|h| h.response_headers[&2].iter().find(|(n, _)| n == ":status").map(|(_, v)| v.clone()));
    assert_eq!(status.as_deref(), Some("503"), "never a 200 for a logout not taken");
    assert_eq!(arrive(&mut rig, 2, body("j1").as_bytes(), true), Action::Pause);
    assert!(rig.reply(2).is_none() && rig.counter("oidc_gate.backchannel_logout.accepted") == 0);
}

#[test]
fn a_body_over_the_limit_is_refused_at_once_and_never_passed_on() {
    let mut rig = site();
    start(&mut rig, 2);
    let big = vec![b'a'; MAX_BODY + 1];
    assert_eq!(arrive(&mut rig, 2, &big, false), Action::Pause);
    let reply = rig.reply(2).unwrap();
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("one logout_token"), "{}", reply.body);
    assert_eq!(arrive(&mut rig, 2, &big, true), Action::Pause, "the rest is held");
    // Headers alone (no body at all): refused too.
    with(|h| h.current = 4);
    let action = rig.request(
        4,
        &[(":path", PATH.as_bytes()), (":method", b"POST"), ("content-type", b"application/x-www-form-urlencoded")],
    );
    assert_eq!(action, Action::Pause);
    assert_eq!(rig.reply(4).map(|r| r.status), Some(400));
    assert_eq!(rig.counter("oidc_gate.backchannel_logout.refused"), 2);
}

#[test]
fn a_body_that_ends_with_trailers_is_answered_and_never_passed_on() {
    // HTTP/2 (and HTTP/1 with trailers on) ends a body with trailers: the last body
    // chunk is not its end. Going on at the trailers would hand the buffered body to the
    // route, unauthenticated, and leave the logout untaken.
    let mut rig = site();
    start(&mut rig, 2);
    let b = body("j1");
    assert_eq!(arrive(&mut rig, 2, b.as_bytes(), false), Action::Pause);
    assert!(rig.reply(2).is_none());
    assert_eq!(rig.https.get_mut(&2).unwrap().on_http_request_trailers(1), Action::Pause, "the body went on");
    assert_eq!(rig.reply(2).map(|r| r.status), Some(200));
    assert_eq!(rig.counter("oidc_gate.backchannel_logout.accepted"), 1);
    // Trailers after a refusal are held too.
    start(&mut rig, 3);
    arrive(&mut rig, 3, &vec![b'a'; MAX_BODY + 1], false);
    assert_eq!(rig.reply(3).map(|r| r.status), Some(400));
    assert_eq!(rig.https.get_mut(&3).unwrap().on_http_request_trailers(1), Action::Pause);
    // Any other request's trailers go on.
    with(|h| h.current = 4);
    rig.request(4, &[(":path", b"/"), (":method", b"GET")]);
    assert_eq!(rig.https.get_mut(&4).unwrap().on_http_request_trailers(1), Action::Continue);
}
