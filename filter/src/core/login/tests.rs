//! The login flow against a provider fed with discovery and keys, at a pinned time.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::callback::LoginContext;
use super::flow::{self, FLOW_TTL};
use super::id_token::{on_token_response, on_userinfo_response};
use super::*;
use crate::core::config::Config;
use crate::core::idp::{IssuerConfig, Metadata, Provider};
use crate::core::testing::keys::{jwks, rsa_a, rsa_b, sign};
use crate::core::testing::{discovery, feed, login_config, FixedRng as Rng, ISS, NOW_S as NOW};
use crate::core::token::{Alg, JwtError};
use crate::core::web::pages::Page;
use crate::core::web::{form, AbsoluteUrl, LocalResponse, Origin};

fn origin() -> Origin {
    Origin { scheme: "https", authority: "app.example.com".into() }
}

fn config() -> Config {
    login_config(json!({"identity_headers": {"x-user-id": "sub", "x-user-email": "email"}}))
}

fn provider(iss_supported: bool) -> Provider {
    let c = config();
    let mut p = Provider::new(IssuerConfig {
        issuer: ISS.into(),
        rule: crate::core::token::IssuerRule::new(ISS, vec![], vec![]),
        discovery_url: AbsoluteUrl::parse("https://idp.example.com/.well-known/openid-configuration").unwrap(),
        audiences: vec!["web".into()],
        identity_headers: None,
        endpoints: None,
    });
    let doc = discovery(json!({"authorization_response_iss_parameter_supported": iss_supported}));
    feed(&mut p, &c.clusters, &doc, &jwks(&[(&rsa_a(), "k1")]), 0);
    p
}

fn header<'a>(r: &'a LocalResponse, name: &str) -> Vec<&'a str> {
    r.headers.iter().filter(|(n, _)| *n == name).map(|(_, v)| v.as_str()).collect()
}

/// Starts a login and returns (authorization URL query, Cookie header the browser would send back).
fn started(cookie_header: Option<&str>, target: &str) -> (Vec<(String, String)>, String) {
    let c = config();
    let p = provider(true);
    let metadata = p.metadata.as_ref().unwrap();
    let req = Start { origin: &origin(), target, cookie_header, ask: Ask::default() };
    let r = start(c.login.as_ref().unwrap(), metadata, &req, NOW, &mut Rng(0)).unwrap();
    assert_eq!(r.status, 302);
    let loc = header(&r, "location")[0];
    let query = form::parse(loc.split_once('?').unwrap().1).unwrap();
    let set = header(&r, "set-cookie")[0];
    (query, set.split(';').next().unwrap().to_string())
}

#[test]
fn start_sends_pkce_state_nonce_and_seals_the_flow() {
    let (q, cookie) = started(None, "/some/page?x=1");
    let get = |k: &str| form::get(&q, k).unwrap().to_string();
    assert_eq!(get("response_type"), "code");
    assert_eq!(get("redirect_uri"), "https://app.example.com/oauth2/callback");
    assert_eq!(get("scope"), "openid email profile");
    assert_eq!(get("code_challenge_method"), "S256");
    let c = config();
    let session = &c.login.as_ref().unwrap().session;
    let (name, _) = cookie.split_once('=').unwrap();
    assert!(name.starts_with("__Host-oidc_session_flow_"));
    let flow = Flow::open(session, Some(&cookie), name).unwrap();
    assert_eq!(flow.state, get("state"));
    assert_eq!(flow.nonce, get("nonce"));
    assert_eq!(flow.target, "/some/page?x=1");
    assert_eq!(get("code_challenge"), URL_SAFE_NO_PAD.encode(Sha256::digest(flow.verifier.as_bytes())));
    assert_ne!(flow.state, flow.nonce);
    // An unsafe original path is never stored as the return target.
    let (_, cookie2) = started(None, "//evil.example");
    let (n2, _) = cookie2.split_once('=').unwrap();
    assert_eq!(Flow::open(session, Some(&cookie2), n2).unwrap().target, "/");
}

fn begin_with(query: &str, cookie: Option<&str>, iss_supported: bool, now_s: u64) -> Step {
    let c = config();
    let p = provider(iss_supported);
    let ctx = LoginContext { config: &c, login: c.login.as_ref().unwrap(), provider: &p };
    let o = origin();
    let req = CallbackRequest { origin: &o, query, cookie_header: cookie, request_id: Some("rid-1"), now_s };
    Callback::begin(&ctx, &req, &mut Rng(0))
}

/// (status, reason) of a failed step; (0, "exchange") when it makes the code exchange.
fn outcome(step: Step) -> (u32, String) {
    match step {
        Step::Failed(response, error) => (response.status, error.to_string()),
        Step::Call(..) => (0, "exchange".into()),
        Step::Done(r) => (r.status, "done".into()),
        Step::NeedKeys(_) => (0, "needs keys".into()),
    }
}

#[test]
fn callback_checks_state_error_and_iss_before_any_token_call() {
    let (q, cookie) = started(None, "/p");
    let state = form::get(&q, "state").unwrap();
    let iss = form::encode(ISS);
    match begin_with(&format!("code=c1&state={state}&iss={iss}"), Some(&cookie), true, NOW + 5) {
        Step::Call(_, callout) => {
            assert_eq!(callout.method, "POST");
            assert_eq!(callout.target.path, "/token");
            let body = form::parse(callout.body.as_deref().unwrap()).unwrap();
            assert_eq!(form::get(&body, "code"), Some("c1"));
            assert_eq!(form::get(&body, "grant_type"), Some("authorization_code"));
            assert_eq!(form::get(&body, "code_verifier").map(str::len), Some(43));
            assert_eq!(form::get(&body, "redirect_uri"), Some("https://app.example.com/oauth2/callback"));
            let auth = callout.headers.iter().find(|(n, _)| *n == "authorization").unwrap();
            assert_eq!(auth.1, format!("Basic {}", STANDARD.encode("web:s3cret")));
        }
        other => panic!("{other:?}"),
    }
    let cases = [
        (format!("code=c1&state={}&iss={iss}", "x".repeat(43)), Some(cookie.as_str()), 400),
        (format!("code=c1&state={state}&iss={iss}"), None, 400),
        (format!("code=c1&iss={iss}"), Some(cookie.as_str()), 400),
        (format!("code=c1&state={state}&state={state}"), Some(cookie.as_str()), 400),
        (format!("code=c1&state={state}&iss=https%3A%2F%2Fevil.example"), Some(cookie.as_str()), 502),
        (format!("code=c1&state={state}"), Some(cookie.as_str()), 502),
        (format!("error=access_denied&state={state}&iss={iss}"), Some(cookie.as_str()), 403),
        (format!("state={state}&iss={iss}"), Some(cookie.as_str()), 502),
    ];
    for (query, cookie, want) in cases {
        assert_eq!(outcome(begin_with(&query, cookie, true, NOW + 5)).0, want, "{query}");
    }
    // Without RFC 9207 support at the IdP, a missing iss is accepted.
    assert_eq!(outcome(begin_with(&format!("code=c1&state={state}"), Some(&cookie), false, NOW + 5)).1, "exchange");
}

#[test]
fn an_expired_flow_is_refused_and_its_cookie_cleared() {
    let (q, cookie) = started(None, "/p");
    let query = format!("code=c&state={}", form::get(&q, "state").unwrap());
    let step = begin_with(&query, Some(&cookie), false, NOW + FLOW_TTL.as_secs());
    let Step::Failed(response, error) = step else { panic!("{step:?}") };
    assert_eq!((response.status, error), (400, LoginError::FlowExpired));
    let name = cookie.split('=').next().unwrap();
    assert!(header(&response, "set-cookie").iter().any(|c| c.starts_with(&format!("{name}=;"))));
}

/// A login flow in progress (also for `idp_tests`).
pub(super) fn flow() -> Flow {
    Flow {
        state: "s".repeat(43),
        nonce: "n".repeat(43),
        verifier: "v".repeat(43),
        target: "/p".into(),
        created: NOW,
        step_up: None,
    }
}

fn id_token(overrides: Value, key_is_trusted: bool) -> Vec<u8> {
    let mut claims = json!({"iss": ISS, "sub": "alice", "aud": "web", "exp": NOW + 300, "iat": NOW, "nonce": "n".repeat(43), "email": "a@example.com"});
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    let key = if key_is_trusted { rsa_a() } else { rsa_b() };
    json!({"id_token": sign(&key, Alg::RS256, "k1", &claims), "access_token": "at", "token_type": "Bearer"})
        .to_string()
        .into_bytes()
}

fn token_result(body: &[u8], status: Option<u16>) -> Result<id_token::Checked, LoginError> {
    let c = config();
    let p = provider(true);
    let ctx = LoginContext { config: &c, login: c.login.as_ref().unwrap(), provider: &p };
    on_token_response(&ctx, &flow(), status, body, NOW)
}

#[test]
fn the_id_token_is_validated_fully() {
    let checked = token_result(&id_token(json!({}), true), Some(200)).unwrap();
    assert!(checked.userinfo.is_none());
    assert_eq!(checked.session.sub, "alice");
    assert_eq!(checked.session.claims.get("email"), Some(&json!("a@example.com")));
    assert!(checked.session.id_token.is_some());
    assert_eq!(checked.session.exp, NOW + 8 * 3600);
    let cases = [
        (id_token(json!({"nonce": "other"}), true), LoginError::NonceMismatch),
        (id_token(json!({"nonce": null}), true), LoginError::NonceMismatch),
        (id_token(json!({"aud": "someone-else"}), true), LoginError::IdToken(JwtError::WrongAudience)),
        (id_token(json!({"aud": ["web", "other"]}), true), LoginError::AzpMismatch),
        (id_token(json!({"aud": ["web", "other"], "azp": "other"}), true), LoginError::AzpMismatch),
        (id_token(json!({"azp": "other"}), true), LoginError::AzpMismatch),
        (id_token(json!({"iss": "https://evil.example"}), true), LoginError::IdToken(JwtError::UnknownIssuer)),
        (id_token(json!({"exp": NOW - 3600}), true), LoginError::IdToken(JwtError::Expired)),
        (id_token(json!({"sub": null}), true), LoginError::MissingSub),
        (id_token(json!({}), false), LoginError::IdToken(JwtError::BadSignature)),
        (b"{\"access_token\":\"x\"}".to_vec(), LoginError::BadTokenResponse),
        (b"<html>".to_vec(), LoginError::BadTokenResponse),
    ];
    for (body, want) in cases {
        assert_eq!(token_result(&body, Some(200)).unwrap_err(), want);
    }
    assert!(token_result(&id_token(json!({"aud": ["web", "other"], "azp": "web"}), true), Some(200)).is_ok());
    assert_eq!(
        token_result(b"{\"error\":\"invalid_grant\"}", Some(400)).unwrap_err(),
        LoginError::TokenEndpoint { status: Some(400), error: Some("invalid_grant".into()) }
    );
    assert_eq!(token_result(b"", None).unwrap_err().page().0, Page::IdpUnreachable);
    // Envoy's own answer to a callout it could not connect, or that timed out.
    for status in [503, 504] {
        assert_eq!(token_result(b"upstream request timeout", Some(status)).unwrap_err().page().0, Page::IdpUnreachable);
    }
    assert_eq!(token_result(b"{}", Some(500)).unwrap_err().page().0, Page::LoginFailed);
}

#[test]
fn missing_claims_come_from_userinfo_whose_sub_must_match() {
    let c = config();
    let p = provider(true);
    let ctx = LoginContext { config: &c, login: c.login.as_ref().unwrap(), provider: &p };
    let checked = token_result(&id_token(json!({"email": null}), true), Some(200)).unwrap();
    let callout = checked.userinfo.expect("a userinfo call");
    assert_eq!(callout.target.path, "/me");
    assert!(callout.headers.contains(&("authorization", "Bearer at".to_string())));
    let mut merged = checked.session.clone();
    on_userinfo_response(&ctx, &mut merged, Some(200), br#"{"sub":"alice","email":"u@example.com"}"#).unwrap();
    assert_eq!(merged.claims.get("email"), Some(&json!("u@example.com")));
    let mut other = checked.session.clone();
    assert_eq!(
        on_userinfo_response(&ctx, &mut other, Some(200), br#"{"sub":"mallory","email":"m@example.com"}"#),
        Err(LoginError::UserinfoSubMismatch)
    );
    let mut refused = checked.session;
    assert_eq!(
        on_userinfo_response(&ctx, &mut refused, Some(401), b""),
        Err(LoginError::Userinfo { status: Some(401) })
    );
}

#[test]
fn email_and_email_verified_come_from_one_document() {
    let c = config();
    let p = provider(true);
    let ctx = LoginContext { config: &c, login: c.login.as_ref().unwrap(), provider: &p };
    let pair =
        |s: &crate::core::session::Session| (s.claims.get("email").cloned(), s.claims.get("email_verified").cloned());
    // The ID token's unverified email stays unverified whatever userinfo says.
    let mut s = crate::core::testing::session(NOW, json!({"email": "ceo@corp.example"}));
    let info = br#"{"sub":"alice","email":"alice@mail.example","email_verified":true}"#;
    on_userinfo_response(&ctx, &mut s, Some(200), info).unwrap();
    assert_eq!(pair(&s), (Some(json!("ceo@corp.example")), None));
    // An email from userinfo brings its own verification, not the ID token's.
    let mut s = crate::core::testing::session(NOW, json!({"email_verified": true}));
    on_userinfo_response(&ctx, &mut s, Some(200), br#"{"sub":"alice","email":"x@y"}"#).unwrap();
    assert_eq!(pair(&s), (Some(json!("x@y")), None));
    let mut s = crate::core::testing::session(NOW, json!({}));
    on_userinfo_response(&ctx, &mut s, Some(200), info).unwrap();
    assert_eq!(pair(&s), (Some(json!("alice@mail.example")), Some(json!(true))));
}

/// A callback of a real started flow, through the code exchange, answered with `body`.
fn through_exchange(body_for_nonce: impl Fn(&str) -> Vec<u8>) -> (Step, String) {
    let (q, cookie) = started(Some("__Host-oidc_session_3=stale"), "/p");
    let state = form::get(&q, "state").unwrap();
    let nonce = form::get(&q, "nonce").unwrap();
    let header = format!("{cookie}; __Host-oidc_session_3=stale");
    let Step::Call(callback, _) = begin_with(&format!("code=c&state={state}"), Some(&header), false, NOW + 1) else {
        panic!("no exchange")
    };
    let c = config();
    let p = provider(false);
    let ctx = LoginContext { config: &c, login: c.login.as_ref().unwrap(), provider: &p };
    (callback.on_response(&ctx, Some(200), &body_for_nonce(nonce), NOW + 2, &mut Rng(9)), cookie)
}

#[test]
fn the_callback_ends_with_the_session_set_the_flow_cleared_and_the_page() {
    let body = |nonce: &str| {
        let claims = json!({"iss": ISS, "sub": "alice", "aud": "web", "exp": NOW + 300, "iat": NOW, "nonce": nonce, "email": "a@example.com"});
        json!({"id_token": sign(&rsa_a(), Alg::RS256, "k1", &claims), "access_token": "at"}).to_string().into_bytes()
    };
    let (step, flow_cookie) = through_exchange(body);
    let Step::Done(r) = step else { panic!("{step:?}") };
    assert_eq!(header(&r, "location"), vec!["/p"]);
    let cookies = header(&r, "set-cookie");
    assert!(cookies[0].starts_with("__Host-oidc_session="));
    assert!(cookies.iter().any(|c| c.starts_with("__Host-oidc_session_3=;")), "a stale chunk is cleared");
    let flow_name = flow_cookie.split('=').next().unwrap();
    assert!(cookies.iter().any(|c| c.starts_with(&format!("{flow_name}=;"))), "the flow cookie is cleared");
    // A refused ID token ends on a page, without a session cookie.
    let (step, _) = through_exchange(|_| id_token(json!({}), true));
    let Step::Failed(r, e) = step else { panic!("{step:?}") };
    assert_eq!((r.status, e), (502, LoginError::NonceMismatch));
    assert!(!header(&r, "set-cookie")
        .iter()
        .any(|c| c.starts_with("__Host-oidc_session=") && !c.contains("Max-Age=0")));
}

#[test]
fn a_cookie_header_stuffed_with_flows_costs_a_bounded_number_of_opens_and_clears() {
    let c = config();
    let session = &c.login.as_ref().unwrap().session;
    let mut rng = Rng(3);
    let flows: Vec<String> = (0..40)
        .map(|i| {
            let f = Flow::new("/", NOW + i, &mut rng);
            f.set_cookie(session, &mut rng).unwrap().split(';').next().unwrap().to_string()
        })
        .collect();
    let cleared = flow::drop_old_flows(session, Some(&flows.join("; ")), NOW + 50);
    assert_eq!(cleared.len(), crate::core::session::names::MAX_OWN_COOKIES);
    // The three newest of the opened flows are kept, so a new login makes four.
    let opened: Vec<&str> = flows[..flow::MAX_OPENED_FLOWS].iter().map(|f| f.split('=').next().unwrap()).collect();
    for kept in &opened[opened.len() - 3..] {
        assert!(!cleared.iter().any(|c| c.starts_with(&format!("{kept}="))), "{kept} kept");
    }
}

#[test]
fn logout_without_end_session_endpoint_goes_to_post_logout_redirect() {
    let c = config();
    let login = c.login.as_ref().unwrap();
    let r = logout::logout(login, None, &origin(), Some("__Host-oidc_session_1=x; other=y"), NOW);
    assert_eq!(header(&r, "location"), vec!["/"]);
    let cleared = header(&r, "set-cookie");
    assert!(cleared.iter().any(|c| c.starts_with("__Host-oidc_session_1=;")));
    assert!(cleared.iter().any(|c| c.starts_with("__Host-oidc_session=;")));
    assert!(!cleared.iter().any(|c| c.starts_with("other")));
}

#[test]
fn logout_is_refused_to_other_sites() {
    assert!(logout::allowed(None));
    assert!(logout::allowed(Some("same-origin")));
    assert!(logout::allowed(Some("none")));
    assert!(!logout::allowed(Some("cross-site")));
    assert!(!logout::allowed(Some("same-site")));
}

#[test]
fn a_fixed_redirect_uri_overrides_the_request_origin() {
    let c = login_config(json!({"redirect_uri": "https://app.example.com/auth/cb"}));
    let login = c.login.as_ref().unwrap();
    assert_eq!(login.callback_path, "/auth/cb");
    let spoofed = Origin { scheme: "http", authority: "evil.example".into() };
    let req = Start { origin: &spoofed, target: "/", cookie_header: None, ask: Ask::default() };
    let r = start(login, provider(true).metadata.as_ref().unwrap(), &req, NOW, &mut Rng(0)).unwrap();
    let q = form::parse(header(&r, "location")[0].split_once('?').unwrap().1).unwrap();
    assert_eq!(form::get(&q, "redirect_uri"), Some("https://app.example.com/auth/cb"));
    // The IdP sends the browser back to the fixed origin after logout, not the spoofed one.
    let metadata = Metadata::parse(discovery(json!({})).as_bytes(), ISS).unwrap();
    let out = logout::logout(login, Some(&metadata), &spoofed, None, NOW);
    let location = header(&out, "location")[0];
    let q = form::parse(location.split_once('?').unwrap().1).unwrap();
    assert!(location.starts_with("https://idp.example.com/logout?"));
    assert_eq!(form::get(&q, "post_logout_redirect_uri"), Some("https://app.example.com/"));
    let bad = crate::core::testing::config_json(
        json!({"client_secret": "s", "redirect_uri": "https://app.example.com/auth/cb",
        "callback_path": "/other", "session": {"keys": [crate::core::testing::session_key(5)]}}),
    );
    let errs: Vec<String> =
        crate::core::config::load(bad.to_string().as_bytes(), &crate::core::testing::MapEnv::default())
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
    assert_eq!(errs, vec!["callback_path: differs from the path of redirect_uri"]);
}

#[test]
fn a_person_outside_the_allowed_domains_gets_403_at_the_callback_and_no_session() {
    let c = login_config(json!({"identity_headers": {"x-user-email": "email"},
        "authorization": {"allowed_email_domains": ["example.com"]}}));
    let p = provider(false);
    let ctx = LoginContext { config: &c, login: c.login.as_ref().unwrap(), provider: &p };
    let m = p.metadata.as_ref().unwrap();
    let req = Start { origin: &origin(), target: "/p", cookie_header: None, ask: Ask::default() };
    let r = start(ctx.login, m, &req, NOW, &mut Rng(0)).unwrap();
    let q = form::parse(header(&r, "location")[0].split_once('?').unwrap().1).unwrap();
    let cookie = header(&r, "set-cookie")[0].split(';').next().unwrap().to_string();
    let (state, nonce) = (form::get(&q, "state").unwrap(), form::get(&q, "nonce").unwrap());
    for (email, verified, want) in
        [("x@evil.example", true, 403), ("a@example.com", false, 403), ("a@example.com", true, 302)]
    {
        let o = origin();
        let query = format!("code=c&state={state}");
        let req = CallbackRequest {
            origin: &o,
            query: &query,
            cookie_header: Some(&cookie),
            request_id: None,
            now_s: NOW + 1,
        };
        let Step::Call(callback, _) = Callback::begin(&ctx, &req, &mut Rng(0)) else { panic!() };
        let claims = json!({"iss": ISS, "sub": "u", "aud": "web", "exp": NOW + 300, "iat": NOW, "nonce": nonce,
            "email": email, "email_verified": verified});
        let body = json!({"id_token": sign(&rsa_a(), Alg::RS256, "k1", &claims)}).to_string();
        let step = callback.on_response(&ctx, Some(200), body.as_bytes(), NOW + 2, &mut Rng(1));
        let (status, cookies) = match &step {
            Step::Failed(r, e) => {
                assert!(matches!(e, LoginError::NotAllowed(_)), "{e}");
                (r.status, header(r, "set-cookie").join(";"))
            }
            Step::Done(r) => (r.status, header(r, "set-cookie").join(";")),
            other => panic!("{other:?}"),
        };
        assert_eq!(status, want, "{email} verified={verified}");
        assert_eq!(
            cookies.contains("__Host-oidc_session=") && !cookies.starts_with("__Host-oidc_session=;"),
            want == 302
        );
    }
}
