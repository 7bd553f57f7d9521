//! Back-channel logout: each refusal of a logout token, and sessions it ends on every
//! worker (two gates over one shared store), cached or not, while later logins live.

use serde_json::{json, Value};
use std::rc::Rc;

use super::*;
use crate::core::login::backchannel::{LogoutError, EVENT, MAX_BODY};
use crate::core::session;
use crate::core::testing::keys::{jwks, rsa_a, rsa_b, sign, sign_with_header};
use crate::core::testing::{
    cookie_header, discovery, feed, login_config, session as alice, FixedRng, MapHeaders, TestIo, ISS, NOW_MS, NOW_S,
};
use crate::core::token::{Alg, JwtError};
use crate::core::web::form;

const PATH: &str = "/oauth2/backchannel-logout";

fn gate() -> Gate {
    let cfg = json!({"backchannel_logout_path": PATH, "identity_headers": {"x-user-id": "sub"}});
    let mut g = Gate::new(Rc::new(login_config(cfg)));
    let clusters = g.config.clusters.clone();
    feed(&mut g.providers[0], &clusters, &discovery(json!({})), &jwks(&[(&rsa_a(), "k1")]), NOW_MS);
    g
}

/// The claims of a good logout token for alice's IdP session `s1`, with `overrides`
/// (`null` removes a claim).
fn claims(overrides: Value) -> Value {
    let mut c = json!({"iss": ISS, "aud": "web", "iat": NOW_S, "exp": NOW_S + 120, "jti": "j1", "sub": "alice",
        "sid": "s1", "events": {EVENT: {}}});
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn logout_token(overrides: Value) -> String {
    sign_with_header(&rsa_a(), json!({"alg": "RS256", "kid": "k1", "typ": "logout+jwt"}), &claims(overrides))
}

fn post(g: &mut Gate, io: &mut TestIo, token: &str, now_ms: u64) -> (u32, Counter, String) {
    let body = form::serialize(&[("logout_token", token)]);
    let h =
        MapHeaders::new(&[(":path", PATH), (":method", "POST"), ("content-type", "application/x-www-form-urlencoded")]);
    assert!(matches!(io.run(|io| g.decide(&mut h.clone(), now_ms, true, io)), Decision::ReadBody));
    match io.run(|io| g.backchannel_logout(Some(body.as_bytes()), now_ms, io)) {
        Decision::Respond { response, counter, .. } => {
            assert_eq!(response.header("cache-control"), Some("no-store"));
            (response.status, counter, response.body)
        }
        other => panic!("{other:?}"),
    }
}

/// A session cookie of alice, logged in at `iat`, in IdP session `sid`.
fn cookie(g: &Gate, iat: u64, sid: Option<&str>) -> String {
    let mut s = alice(iat, json!({}));
    s.sid = sid.map(str::to_string);
    let config = &g.config.login.as_ref().unwrap().session;
    cookie_header(&session::write(config, &s, &[], &mut FixedRng(1)).unwrap())
}

fn page(cookie: &str) -> MapHeaders {
    MapHeaders::new(&[(":path", "/p"), (":method", "GET"), (":authority", "app.example.com"), ("cookie", cookie)])
}

/// What a request with this cookie gets: 200 (through) or the status of the answer.
fn status(g: &mut Gate, io: &mut TestIo, cookie: &str, now_ms: u64) -> u32 {
    match io.run(|io| g.decide(&mut page(cookie), now_ms, true, io)) {
        Decision::Allow { .. } => 200,
        Decision::Respond { response, .. } => {
            let cleared = response.headers.iter().any(|(n, v)| *n == "set-cookie" && v.contains("Max-Age=0"));
            assert!(cleared, "the ended session's cookies are cleared");
            response.status
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_logout_token_ends_the_session_on_every_worker_cached_or_not_and_later_logins_live() {
    let (mut w1, mut w2) = (gate(), gate());
    let mut io = TestIo::new(0);
    let s1 = cookie(&w1, NOW_S - 60, Some("s1"));
    let other = cookie(&w1, NOW_S - 60, Some("s2"));
    // Both workers have the session cached.
    assert_eq!(status(&mut w1, &mut io, &s1, NOW_MS), 200);
    assert_eq!(status(&mut w2, &mut io, &s1, NOW_MS), 200);
    assert_eq!(
        post(&mut w1, &mut io, &logout_token(json!({})), NOW_MS),
        (200, Counter::BackchannelLogout, String::new())
    );
    for w in [&mut w1, &mut w2] {
        assert_eq!(status(w, &mut io, &s1, NOW_MS + 1000), 401, "an API-like request: 401");
        assert_eq!(status(w, &mut io, &other, NOW_MS + 1000), 200, "alice's other IdP session");
    }
    assert_eq!(io.seen.iter().filter(|c| **c == Counter::SessionRevoked).count(), 2);
    assert!(io.logs.iter().any(|l| l == "session ended: a back-channel logout revoked it"));
    // Signed in again after the logout: lives.
    let again = cookie(&w1, NOW_S + 5, Some("s1"));
    assert_eq!(status(&mut w2, &mut io, &again, NOW_MS + 6000), 200);
}

#[test]
fn a_logout_by_sub_alone_ends_every_session_of_the_sub() {
    let mut g = gate();
    let mut io = TestIo::new(0);
    let (s1, sidless) = (cookie(&g, NOW_S - 60, Some("s1")), cookie(&g, NOW_S - 60, None));
    assert_eq!(post(&mut g, &mut io, &logout_token(json!({"sid": null})), NOW_MS).0, 200);
    assert_eq!(status(&mut g, &mut io, &s1, NOW_MS), 401);
    assert_eq!(status(&mut g, &mut io, &sidless, NOW_MS), 401);
}

#[test]
fn a_replayed_token_is_refused_and_ends_nothing_new() {
    let mut g = gate();
    let mut io = TestIo::new(0);
    let token = logout_token(json!({"sid": "gone"}));
    assert_eq!(post(&mut g, &mut io, &token, NOW_MS).0, 200);
    let later = cookie(&g, NOW_S + 2, Some("gone"));
    let (status_, counter, body) = post(&mut g, &mut io, &token, NOW_MS + 3000);
    assert_eq!((status_, counter), (400, Counter::BackchannelLogoutRefused));
    assert_eq!(body, r#"{"error":"invalid_request","error_description":"The logout token was already used"}"#);
    assert_eq!(self::status(&mut g, &mut io, &later, NOW_MS + 3000), 200, "the replay ended nothing");
}

#[test]
fn every_invalid_logout_token_is_refused_with_its_reason_and_ends_nothing() {
    let header = |typ: &str| json!({"alg": "RS256", "kid": "k1", "typ": typ});
    let mut bad_sig = logout_token(json!({}));
    bad_sig.replace_range(bad_sig.len() - 4.., "AAAA");
    let cases: Vec<(String, LogoutError)> = vec![
        (bad_sig, LogoutError::Token(JwtError::BadSignature)),
        (sign(&rsa_b(), Alg::RS256, "k1", &claims(json!({}))), LogoutError::Token(JwtError::BadSignature)),
        (sign(&rsa_a(), Alg::RS256, "unknown", &claims(json!({}))), LogoutError::Token(JwtError::UnknownKey)),
        (logout_token(json!({"iss": "https://evil.example.com"})), LogoutError::Token(JwtError::UnknownIssuer)),
        (logout_token(json!({"aud": "other-client"})), LogoutError::Token(JwtError::WrongAudience)),
        (sign_with_header(&rsa_a(), header("at+jwt"), &claims(json!({}))), LogoutError::WrongType),
        (sign_with_header(&rsa_a(), header("id+jwt"), &claims(json!({}))), LogoutError::WrongType),
        (logout_token(json!({"iat": null})), LogoutError::Stale),
        (logout_token(json!({"iat": NOW_S - 61})), LogoutError::Stale),
        (logout_token(json!({"iat": NOW_S + 61})), LogoutError::Stale),
        (logout_token(json!({"exp": NOW_S - 61})), LogoutError::Expired),
        (logout_token(json!({"events": null})), LogoutError::NoEvent),
        (logout_token(json!({"events": {EVENT: "yes"}})), LogoutError::NoEvent),
        (logout_token(json!({"events": {"http://schemas.openid.net/event/other": {}}})), LogoutError::NoEvent),
        (logout_token(json!({"sid": null, "sub": null})), LogoutError::NoSubject),
        (logout_token(json!({"sid": 5})), LogoutError::Token(JwtError::Malformed)),
        (logout_token(json!({"nonce": "n"})), LogoutError::Nonce),
        (logout_token(json!({"jti": null})), LogoutError::NoJti),
        ("not.a.jwt".to_string(), LogoutError::Token(JwtError::Malformed)),
        (String::new(), LogoutError::NoToken),
    ];
    let mut g = gate();
    let mut io = TestIo::new(0);
    let s1 = cookie(&g, NOW_S - 60, Some("s1"));
    for (token, why) in cases {
        let (status_, counter, body) = post(&mut g, &mut io, &token, NOW_MS);
        assert_eq!((status_, counter), (400, Counter::BackchannelLogoutRefused), "{why:?}");
        assert!(body.contains(why.description()), "{why:?}: {body}");
    }
    assert_eq!(status(&mut g, &mut io, &s1, NOW_MS), 200, "nothing ended");
    // No key was fetched for an unknown kid (anyone can post here).
    assert!(g.providers[0].poll(NOW_MS + 60_000, &g.config.clusters.clone()).is_none());
    // A typ of application/logout+jwt, JWT (Keycloak's), or none, is fine.
    let plain = sign(&rsa_a(), Alg::RS256, "k1", &claims(json!({"jti": "j7"})));
    assert_eq!(post(&mut g, &mut io, &plain, NOW_MS).0, 200);
    let long_typ = sign_with_header(&rsa_a(), header("application/logout+jwt"), &claims(json!({"jti": "j8"})));
    assert_eq!(post(&mut g, &mut io, &long_typ, NOW_MS).0, 200);
    let no_typ = sign_with_header(&rsa_a(), json!({"alg": "RS256", "kid": "k1"}), &claims(json!({"jti": "j9"})));
    assert_eq!(post(&mut g, &mut io, &no_typ, NOW_MS).0, 200);
}

#[test]
fn the_endpoint_takes_form_posts_only_and_bodies_within_the_limit() {
    let mut g = gate();
    let mut io = TestIo::new(0);
    let get = MapHeaders::new(&[(":path", PATH), (":method", "GET")]);
    match io.run(|io| g.decide(&mut get.clone(), NOW_MS, true, io)) {
        Decision::Respond { response, .. } => {
            assert_eq!((response.status, response.header("allow")), (405, Some("POST")));
        }
        other => panic!("{other:?}"),
    }
    let json_post = get.with(":method", "POST").with("content-type", "application/json");
    match io.run(|io| g.decide(&mut json_post.clone(), NOW_MS, true, io)) {
        Decision::Respond { response, .. } => assert_eq!(response.status, 400),
        other => panic!("{other:?}"),
    }
    let too_big = io.run(|io| g.backchannel_logout(None, NOW_MS, io));
    assert!(matches!(too_big, Decision::Respond { response, .. } if response.status == 400));
    let padded = format!("logout_token={}&pad={}", logout_token(json!({})), "x".repeat(MAX_BODY));
    let padded = io.run(|io| g.backchannel_logout(Some(padded.as_bytes()), NOW_MS, io));
    assert!(matches!(padded, Decision::Respond { response, .. } if response.status == 400));
}

#[test]
fn a_logout_that_lands_while_the_session_is_being_refreshed_ends_it_all_the_same() {
    let cfg = json!({"backchannel_logout_path": PATH, "identity_headers": {"x-user-id": "sub"},
        "session": {"keys": [crate::core::testing::session_key(7)], "refresh": true, "refresh_margin": "30s"}});
    let mut g = Gate::new(Rc::new(login_config(cfg)));
    let clusters = g.config.clusters.clone();
    feed(&mut g.providers[0], &clusters, &discovery(json!({})), &jwks(&[(&rsa_a(), "k1")]), NOW_MS);
    let mut io = TestIo::new(0);
    let mut s = alice(NOW_S - 60, json!({}));
    (s.sid, s.refresh_token, s.access_exp) = (Some("s1".into()), Some("rt-1".into()), Some(NOW_S + 20));
    let config = &g.config.login.as_ref().unwrap().session;
    let c = cookie_header(&session::write(config, &s, &[], &mut FixedRng(1)).unwrap());
    // The access token is due: the request waits for the refresh grant...
    let Decision::Call { pending, .. } = io.run(|io| g.decide(&mut page(&c), NOW_MS, true, io)) else { panic!() };
    // ... while the IdP's logout of the session arrives ...
    assert_eq!(post(&mut g, &mut io, &logout_token(json!({})), NOW_MS + 100).0, 200);
    // ... and the grant, sent before the logout, still succeeds.
    let tokens = json!({"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 300, "token_type": "Bearer"});
    let body = tokens.to_string();
    let answer = Answer { status: Some(200), body: body.as_bytes() };
    let d = io.run(|io| g.resume(pending, answer, NOW_MS + 200, &mut page(&c), io));
    let Decision::Respond { response, .. } = d else { panic!("the logged-out session went through: {d:?}") };
    assert_eq!(response.status, 401);
    assert!(response.headers.iter().any(|(n, v)| *n == "set-cookie" && v.contains("Max-Age=0")), "cookies cleared");
    assert!(io.seen.contains(&Counter::SessionRevoked));
}
