//! Step-up per route: a session that lacks the rule's `acr` or a recent `auth_time` signs
//! in again (`prompt=login`, `acr_values`, `max_age`) back to its page, and the callback
//! lets it in only if the new ID token meets the rule; API clients and bearer tokens get
//! RFC 9470's 401.

use serde_json::{json, Value};
use std::rc::Rc;

use super::*;
use crate::core::session;
use crate::core::testing::keys::{jwks, rsa_a, sign};
use crate::core::testing::{
    cookie_header, discovery, feed, login_config, session as alice, FixedRng, MapHeaders, TestIo, ISS, NOW_MS, NOW_S,
};
use crate::core::token::Alg;
use crate::core::web::{form, LocalResponse};

fn gate() -> Gate {
    let cfg = login_config(json!({
        "bearer": {"audiences": ["api"]},
        "authorization": {"rules": [
            {"path": {"prefix": "/billing"}, "acr_values": ["mfa", "hwk"], "max_age": "15m"},
            {"path": {"prefix": "/recent"}, "max_age": "10m"}
        ]},
    }));
    let mut g = Gate::new(Rc::new(cfg));
    let clusters = g.config.clusters.clone();
    feed(&mut g.providers[0], &clusters, &discovery(json!({})), &jwks(&[(&rsa_a(), "k1")]), NOW_MS);
    g
}

fn cookie(g: &Gate, claims: Value) -> String {
    let config = &g.config.login.as_ref().unwrap().session;
    cookie_header(&session::write(config, &alice(NOW_S - 100, claims), &[], &mut FixedRng(2)).unwrap())
}

fn page(path: &str, cookie: Option<&str>) -> MapHeaders {
    let h = MapHeaders::new(&[
        (":path", path),
        (":method", "GET"),
        (":authority", "app.example.com"),
        (":scheme", "https"),
        ("sec-fetch-mode", "navigate"),
    ]);
    match cookie {
        Some(c) => h.with("cookie", c),
        None => h,
    }
}

fn api(path: &str, cookie: &str) -> MapHeaders {
    page(path, Some(cookie)).with("sec-fetch-mode", "cors")
}

fn decide(g: &mut Gate, io: &mut TestIo, h: &MapHeaders) -> Decision {
    io.run(|io| g.decide(&mut h.clone(), NOW_MS, true, io))
}

fn responded(d: Decision) -> (LocalResponse, Counter) {
    match d {
        Decision::Respond { response, counter, .. } => (response, counter),
        other => panic!("{other:?}"),
    }
}

/// The authorization request's parameters in a redirect to the IdP.
fn auth_params(r: &LocalResponse) -> Vec<(String, String)> {
    let location = r.header("location").unwrap();
    assert!(location.starts_with("https://idp.example.com/auth?"), "{location}");
    form::parse(location.split_once('?').unwrap().1).unwrap()
}

fn token(claims: Value) -> String {
    let mut c = json!({"iss": ISS, "sub": "svc", "aud": "api", "exp": NOW_S + 300});
    for (k, v) in claims.as_object().unwrap() {
        c[k] = v.clone();
    }
    sign(&rsa_a(), Alg::RS256, "k1", &c)
}

const CHALLENGE: &str = "Bearer realm=\"oidc-gate\", error=\"insufficient_user_authentication\", \
    error_description=\"A stronger or more recent authentication is required\", acr_values=\"mfa hwk\", max_age=\"900\"";

#[test]
fn a_session_that_lacks_it_signs_in_again_with_acr_values_max_age_and_prompt_login() {
    let mut g = gate();
    let mut io = TestIo::new(0);
    let weak = cookie(&g, json!({"acr": "pwd", "auth_time": NOW_S - 100}));
    let (r, counter) = responded(decide(&mut g, &mut io, &page("/billing/invoices?y=2", Some(&weak))));
    assert_eq!((r.status, counter), (302, Counter::LoginStepUp));
    let p = auth_params(&r);
    let get = |n: &str| form::get(&p, n);
    assert_eq!((get("acr_values"), get("max_age"), get("prompt")), (Some("mfa hwk"), Some("900"), Some("login")));
    // Too old an authentication, the right acr: the same.
    let old = cookie(&g, json!({"acr": "mfa", "auth_time": NOW_S - 961}));
    let (r, _) = responded(decide(&mut g, &mut io, &page("/billing", Some(&old))));
    assert_eq!(form::get(&auth_params(&r), "prompt"), Some("login"));
    // Without acr or auth_time at all: the same (what is missing fails).
    let bare = cookie(&g, json!({}));
    assert_eq!(responded(decide(&mut g, &mut io, &page("/billing", Some(&bare)))).0.status, 302);
    // Only max_age on /recent: no acr_values asked.
    let (r, _) = responded(decide(&mut g, &mut io, &page("/recent", Some(&old))));
    let p = auth_params(&r);
    assert_eq!((form::get(&p, "acr_values"), form::get(&p, "max_age")), (None, Some("600")));
}

#[test]
fn a_session_or_token_that_meets_it_passes() {
    let mut g = gate();
    let mut io = TestIo::new(0);
    let strong = cookie(&g, json!({"acr": "hwk", "auth_time": NOW_S - 100}));
    assert!(matches!(decide(&mut g, &mut io, &page("/billing", Some(&strong))), Decision::Allow { .. }));
    let only_recent = cookie(&g, json!({"acr": "pwd", "auth_time": NOW_S - 500}));
    assert!(matches!(decide(&mut g, &mut io, &page("/recent", Some(&only_recent))), Decision::Allow { .. }));
    assert!(matches!(decide(&mut g, &mut io, &page("/other", Some(&only_recent))), Decision::Allow { .. }));
    let bearer = page("/billing", None).with(
        "authorization",
        &format!(
            "Bearer {}",
            token(json!({"acr": "mfa",
        "auth_time": NOW_S}))
        ),
    );
    assert!(matches!(decide(&mut g, &mut io, &bearer), Decision::Allow { .. }));
}

#[test]
fn api_clients_and_bearer_tokens_that_lack_it_get_the_rfc_9470_challenge() {
    let mut g = gate();
    let mut io = TestIo::new(0);
    let weak = cookie(&g, json!({"acr": "pwd", "auth_time": NOW_S - 100}));
    let bearer = page("/billing", None).with("authorization", &format!("Bearer {}", token(json!({"acr": "pwd"}))));
    for h in [api("/billing/x", &weak), bearer] {
        let (r, counter) = responded(decide(&mut g, &mut io, &h));
        assert_eq!((r.status, counter), (401, Counter::DeniedInsufficientUserAuthentication));
        assert_eq!(r.header("www-authenticate"), Some(CHALLENGE));
        assert_eq!(
            r.body,
            r#"{"error":"insufficient_user_authentication","error_description":"A stronger or more recent authentication is required"}"#
        );
    }
}

#[test]
fn a_first_login_on_the_route_asks_for_it_without_prompt_login() {
    let mut g = gate();
    let mut io = TestIo::new(0);
    let (r, counter) = responded(decide(&mut g, &mut io, &page("/billing/x", None)));
    assert_eq!((r.status, counter), (302, Counter::LoginStarted));
    let p = auth_params(&r);
    assert_eq!((form::get(&p, "acr_values"), form::get(&p, "prompt")), (Some("mfa hwk"), None));
    let (r, _) = responded(decide(&mut g, &mut io, &page("/elsewhere", None)));
    assert_eq!(form::get(&auth_params(&r), "acr_values"), None);
}

/// Steps up a weak session on `/billing/x?y=1`, then answers the callback's code exchange
/// with an ID token of these claims (plus the login's nonce): the callback's answer.
fn step_up_with(id_claims: Value) -> LocalResponse {
    let mut g = gate();
    let mut io = TestIo::new(0);
    let weak = cookie(&g, json!({"acr": "pwd", "auth_time": NOW_S - 100}));
    let (r, _) = responded(decide(&mut g, &mut io, &page("/billing/x?y=1", Some(&weak))));
    let p = auth_params(&r);
    let flow = r.header("set-cookie").unwrap().split(';').next().unwrap().to_string();
    let (state, nonce) = (form::get(&p, "state").unwrap(), form::get(&p, "nonce").unwrap());
    let callback = page(&format!("/oauth2/callback?code=c1&state={state}"), Some(&format!("{weak}; {flow}")));
    let Decision::Call { pending, .. } = decide(&mut g, &mut io, &callback) else { panic!("no code exchange") };
    let mut claims = json!({"iss": ISS, "aud": "web", "sub": "alice", "nonce": nonce, "iat": NOW_S,
        "exp": NOW_S + 300});
    for (k, v) in id_claims.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let body = json!({"id_token": sign(&rsa_a(), Alg::RS256, "k1", &claims), "access_token": "at",
        "token_type": "Bearer"})
    .to_string();
    let answer = Answer { status: Some(200), body: body.as_bytes() };
    responded(io.run(|io| g.resume(pending, answer, NOW_MS, &mut callback.clone(), io))).0
}

#[test]
fn the_callback_lets_the_stepped_up_session_back_to_its_page_only_if_the_id_token_meets_the_rule() {
    let r = step_up_with(json!({"acr": "mfa", "auth_time": NOW_S - 2}));
    assert_eq!((r.status, r.header("location")), (302, Some("/billing/x?y=1")));
    // The new session passes the rule.
    let mut g = gate();
    let set: Vec<String> = r.headers.iter().filter(|(n, _)| *n == "set-cookie").map(|(_, v)| v.clone()).collect();
    let h = page("/billing/x", Some(&cookie_header(&set)));
    assert!(matches!(TestIo::new(0).run(|io| g.decide(&mut h.clone(), NOW_MS, true, io)), Decision::Allow { .. }));
    // An IdP that cannot meet it ends on a page, with no new session: no redirect loop.
    for weak in [json!({"acr": "pwd", "auth_time": NOW_S}), json!({"acr": "mfa"}), json!({"auth_time": NOW_S})] {
        let r = step_up_with(weak.clone());
        assert_eq!(r.status, 403, "{weak}");
        assert!(r.body.contains("A stronger sign-in is needed"), "{weak}");
        assert!(r.header("location").is_none());
        let sets_session = r.headers.iter().any(|(n, v)| *n == "set-cookie" && v.starts_with("__Host-oidc_session="));
        assert!(!sets_session, "{weak}");
    }
}
