//! Scenarios of the request decision against a provider fed with discovery and keys.

use serde_json::json;
use std::rc::Rc;

use super::*;
use crate::core::idp::FetchKind;
use crate::core::session;
use crate::core::testing::keys::{jwks, rsa_a, sign, sign_with_header};
use crate::core::testing::{
    config, discovery, feed, login_config, session as alice, FixedRng as Rng, MapHeaders, TestIo, ISS, NOW_MS,
    NOW_S as NOW, REFRESH,
};
use crate::core::token::{Alg, JwtError};

fn gate() -> Gate {
    Gate::new(Rc::new(config(json!({
        "bearer": {"audiences": ["api"]},
        "identity_headers": {"x-user-id": "sub", "x-user-groups": "groups"},
        "bypass": [{"prefix": "/healthz"}],
    }))))
}

fn feed_keys(g: &mut Gate, body: &str, now_ms: u64) {
    let clusters = g.config.clusters.clone();
    feed(&mut g.providers[0], &clusters, &discovery(json!({})), body, now_ms);
}

fn facts(path: &str, token: Option<&str>) -> MapHeaders {
    let h = MapHeaders::new(&[(":path", path), (":method", "GET")]);
    match token {
        Some(t) => h.with("authorization", &format!("Bearer {t}")),
        None => h,
    }
}

fn token(kid: &str, exp: u64) -> String {
    sign(&rsa_a(), Alg::RS256, kid, &json!({"iss": ISS, "sub": "u1", "aud": "api", "exp": exp, "groups": ["a", "b"]}))
}

fn decide(g: &mut Gate, f: &MapHeaders, now_ms: u64, may_wait: bool) -> (Decision, Vec<Counter>) {
    let mut io = TestIo::new(0);
    let mut req = f.clone();
    let d = io.run(|io| g.decide(&mut req, now_ms, may_wait, io));
    (d, io.seen)
}

/// The decision in a comparable form.
#[derive(Debug, PartialEq)]
enum D {
    Allow(Vec<(String, String)>, Counter),
    Deny(Denial),
    Wait(WaitFor),
    Respond(u32, Counter),
    Call,
    ReadBody,
}

fn d(decision: Decision) -> D {
    match decision {
        Decision::Allow { identity, counter, .. } => D::Allow(identity.headers.clone(), counter),
        Decision::Deny(x) => D::Deny(x),
        Decision::Wait { on, .. } => D::Wait(on),
        Decision::Respond { response, counter, .. } => D::Respond(response.status, counter),
        Decision::Call { .. } => D::Call,
        Decision::ReadBody => D::ReadBody,
    }
}

#[test]
fn bearer_extraction() {
    assert_eq!(bearer_token(Some("Bearer abc")), Some("abc"));
    assert_eq!(bearer_token(Some("bearer   abc")), Some("abc"));
    // A tab is whitespace to apps that split on it: it must be a bearer token here too.
    assert_eq!(bearer_token(Some("Bearer\tabc")), Some("abc"));
    assert_eq!(bearer_token(Some(" Bearer \t abc\t")), Some("abc"));
    assert_eq!(bearer_token(Some("Basic abc")), None);
    assert_eq!(bearer_token(Some("Bearer")), None);
    assert_eq!(bearer_token(None), None);
}

#[test]
fn a_valid_token_is_verified_once_then_served_from_the_cache() {
    let mut g = gate();
    feed_keys(&mut g, &jwks(&[(&rsa_a(), "k1")]), NOW_MS);
    let t = token("k1", NOW + 300);
    let (dec, seen) = decide(&mut g, &facts("/x", Some(&t)), NOW_MS, true);
    let want = vec![("x-user-groups".to_string(), "a,b".to_string()), ("x-user-id".to_string(), "u1".to_string())];
    assert_eq!(d(dec), D::Allow(want.clone(), Counter::AllowedBearer));
    assert_eq!(seen, vec![Counter::CacheMiss, Counter::SharedCacheMiss]);
    let (dec, seen) = decide(&mut g, &facts("/x", Some(&t)), NOW_MS + 1000, true);
    assert_eq!(d(dec), D::Allow(want, Counter::AllowedBearer));
    assert_eq!(seen, vec![Counter::CacheHit]);
    // At exp the cache no longer serves it; past exp plus skew it is refused.
    let (dec, seen) = decide(&mut g, &facts("/x", Some(&t)), (NOW + 300 + 61) * 1000, true);
    assert_eq!(d(dec), D::Deny(Denial::InvalidToken(JwtError::Expired)));
    assert_eq!(
        seen,
        vec![Counter::CacheMiss, Counter::SharedCacheMiss],
        "past exp the shared cache serves nothing either"
    );
}

#[test]
fn requests_wait_for_the_first_keys_then_get_an_answer() {
    let mut g = gate();
    let t = token("k1", NOW + 300);
    let clusters = g.config.clusters.clone();
    let _ = g.providers[0].poll(NOW_MS, &clusters);
    let (dec, _) = decide(&mut g, &facts("/x", Some(&t)), NOW_MS, true);
    assert_eq!(d(dec), D::Wait(WaitFor::Provider(0)));
    // Deciding again after the wait never waits twice.
    let (dec, _) = decide(&mut g, &facts("/x", Some(&t)), NOW_MS, false);
    assert_eq!(d(dec), D::Deny(Denial::Unavailable));
    // Once the first fetch failed, new requests are answered 503 at once.
    g.providers[0].on_response(FetchKind::Discovery, None, b"", NOW_MS, REFRESH);
    let (dec, _) = decide(&mut g, &facts("/x", Some(&t)), NOW_MS, true);
    assert_eq!(d(dec), D::Deny(Denial::Unavailable));
    // A request without a token needs no keys.
    let (dec, _) = decide(&mut g, &facts("/x", None), NOW_MS, true);
    assert_eq!(d(dec), D::Deny(Denial::MissingToken));
}

#[test]
fn an_unknown_kid_waits_for_one_refetch_then_is_refused() {
    let mut g = gate();
    let a = rsa_a();
    feed_keys(&mut g, &jwks(&[(&a, "k1")]), NOW_MS);
    let t = token("k2", NOW + 300);
    let later = NOW_MS + 60_000;
    let (dec, _) = decide(&mut g, &facts("/x", Some(&t)), later, true);
    assert_eq!(d(dec), D::Wait(WaitFor::Provider(0)));
    // The re-fetch brings the new key: the same request now passes.
    let clusters = g.config.clusters.clone();
    let (k, _) = g.providers[0].poll(later, &clusters).unwrap();
    assert_eq!(k, FetchKind::Jwks);
    g.providers[0].on_response(k, Some(200), jwks(&[(&a, "k2")]).as_bytes(), later, REFRESH);
    let (dec, _) = decide(&mut g, &facts("/x", Some(&t)), later, false);
    assert!(matches!(d(dec), D::Allow(_, Counter::AllowedBearer)));
    // Another unknown kid right away: rate-limited, refused without waiting.
    let (dec, _) = decide(&mut g, &facts("/x", Some(&token("k3", NOW + 300))), later + 1000, true);
    assert_eq!(d(dec), D::Deny(Denial::InvalidToken(JwtError::UnknownKey)));
}

#[test]
fn bypass_skips_authentication_but_only_for_clean_paths() {
    let mut g = gate();
    let (dec, _) = decide(&mut g, &facts("/healthz", None), NOW_MS, true);
    assert_eq!(d(dec), D::Allow(vec![], Counter::AllowedBypass));
    let (dec, _) = decide(&mut g, &facts("/healthz/../admin", None), NOW_MS, true);
    assert_eq!(d(dec), D::Deny(Denial::MissingToken));
}

#[test]
fn an_id_token_or_another_kind_of_token_is_not_a_bearer_credential() {
    let mut g = gate();
    let a = rsa_a();
    feed_keys(&mut g, &jwks(&[(&a, "k1")]), NOW_MS);
    let base = json!({"iss": ISS, "sub": "u1", "aud": "api", "exp": NOW + 300});
    let with = |k: &str, v: &str| {
        let mut c = base.clone();
        c[k] = json!(v);
        c
    };
    let header = |typ: &str| json!({"alg": "RS256", "kid": "k1", "typ": typ});
    let refused = [
        (sign(&a, Alg::RS256, "k1", &with("nonce", "n")), JwtError::IdTokenAsBearer),
        // An ID token issued without a nonce (refresh or password grant) still has these.
        (sign(&a, Alg::RS256, "k1", &with("at_hash", "x")), JwtError::IdTokenAsBearer),
        (sign(&a, Alg::RS256, "k1", &with("c_hash", "x")), JwtError::IdTokenAsBearer),
        (sign_with_header(&a, header("logout+jwt"), &base), JwtError::NotAccessToken),
        (sign_with_header(&a, header("secevent+jwt"), &base), JwtError::NotAccessToken),
    ];
    for (t, why) in refused {
        assert_eq!(d(decide(&mut g, &facts("/x", Some(&t)), NOW_MS, true).0), D::Deny(Denial::InvalidToken(why)));
    }
    for typ in ["JWT", "at+jwt", "application/at+JWT"] {
        let t = sign_with_header(&a, header(typ), &base);
        assert!(matches!(d(decide(&mut g, &facts("/x", Some(&t)), NOW_MS, true).0), D::Allow(..)), "{typ}");
    }
}

#[test]
fn without_bearer_audiences_the_login_issuers_tokens_are_refused_even_for_client_id() {
    let mut g = Gate::new(Rc::new(login_config(json!({"bearer": null}))));
    feed_keys(&mut g, &jwks(&[(&rsa_a(), "k1")]), NOW_MS);
    let t = sign(&rsa_a(), Alg::RS256, "k1", &json!({"iss": ISS, "sub": "u1", "aud": "web", "exp": NOW + 300}));
    assert_eq!(
        d(decide(&mut g, &facts("/x", Some(&t)), NOW_MS, true).0),
        D::Deny(Denial::InvalidToken(JwtError::WrongAudience))
    );
}

#[test]
fn tokens_of_unknown_issuers_are_refused_before_any_key_lookup() {
    let mut g = gate();
    let t = sign(&rsa_a(), Alg::RS256, "k1", &json!({"iss": "https://evil", "aud": "api", "exp": NOW + 300}));
    let (dec, _) = decide(&mut g, &facts("/x", Some(&t)), NOW_MS, true);
    assert_eq!(d(dec), D::Deny(Denial::InvalidToken(JwtError::UnknownIssuer)));
}

fn login_gate() -> Gate {
    let mut g = Gate::new(Rc::new(login_config(json!({"session": {
        "keys": [crate::core::testing::session_key(4)], "lifetime": "8h", "idle_timeout": "1h"}}))));
    feed_keys(&mut g, &jwks(&[(&rsa_a(), "k1")]), NOW_MS);
    g
}

fn browser(path: &str, cookie: &str) -> MapHeaders {
    MapHeaders::new(&[
        (":path", path),
        (":method", "GET"),
        (":authority", "app.example.com"),
        ("accept", "text/html"),
        ("cookie", cookie),
    ])
}

#[test]
fn cached_sessions_still_expire_and_still_get_their_idle_window_extended() {
    let mut g = login_gate();
    let config = g.config.clone();
    let s = alice(NOW, json!({}));
    let set = session::write(&config.login.as_ref().unwrap().session, &s, &[], &mut Rng(0)).unwrap();
    let cookie = format!("theme=dark; {}", set[0].split(';').next().unwrap());
    let allow = |dec: Decision| match dec {
        Decision::Allow { identity, cookie, set_cookies, counter, .. } => {
            assert_eq!(counter, Counter::AllowedSession);
            assert_eq!(cookie, CookieRewrite::Set("theme=dark".into()), "our cookie never goes upstream");
            (identity.headers.clone(), set_cookies)
        }
        other => panic!("{other:?}"),
    };
    let (h, set1) = allow(decide(&mut g, &browser("/a", &cookie), NOW_MS + 1000, true).0);
    assert_eq!(h, vec![("x-user-id".to_string(), "alice".to_string())]);
    assert!(set1.is_empty());
    assert_eq!(g.sessions.len(), 1, "cached");
    let (_, set2) = allow(decide(&mut g, &browser("/b", &cookie), NOW_MS + 2000, true).0);
    assert!(set2.is_empty());
    // A quarter into the idle window the cached entry no longer serves: the cookie is re-issued.
    let (_, set3) = allow(decide(&mut g, &browser("/c", &cookie), (NOW + 901) * 1000, true).0);
    assert!(set3.iter().any(|c| c.starts_with("__Host-oidc_session=")));
    // Past the idle timeout the same cookie is refused, cached or not: a new login.
    let (dec, seen) = decide(&mut g, &browser("/d", &cookie), (NOW + 3600) * 1000, true);
    assert_eq!(d(dec), D::Respond(302, Counter::LoginStarted));
    assert!(seen.contains(&Counter::SessionExpired));
}

#[test]
fn a_host_that_is_not_host_and_port_is_a_bad_request_not_a_missing_token() {
    let mut g = login_gate();
    let h = browser("/page", "").with(":authority", "evil.example/x");
    let (dec, _) = decide(&mut g, &h, NOW_MS, true);
    assert_eq!(d(dec), D::Respond(400, Counter::DeniedBadRequest));
}

/// The cookie a browser sends back for these `Set-Cookie`s, beside another site cookie.
fn sent_back(set_cookies: &[String]) -> String {
    format!("theme=dark; {}", crate::core::testing::cookie_header(set_cookies))
}

#[test]
fn a_lapsed_session_means_a_login_for_a_page_a_401_for_an_api_and_a_page_for_a_form() {
    let mut g = login_gate();
    let config = g.config.clone();
    let set =
        session::write(&config.login.as_ref().unwrap().session, &alice(NOW, json!({})), &[], &mut Rng(0)).unwrap();
    let cookie = sent_back(&set);
    let past_lifetime = (NOW + 8 * 3600) * 1000;
    let (dec, seen) = decide(&mut g, &browser("/page", &cookie), past_lifetime, true);
    assert_eq!(d(dec), D::Respond(302, Counter::LoginStarted));
    assert_eq!(seen, vec![Counter::SessionExpired]);
    let api = browser("/page", &cookie).with("sec-fetch-mode", "cors").with("accept", "application/json");
    assert_eq!(d(decide(&mut g, &api, past_lifetime, true).0), D::Deny(Denial::MissingToken));
    let form = browser("/form", &cookie).with(":method", "POST");
    let (dec, _) = decide(&mut g, &form, past_lifetime, true);
    let Decision::Respond { response, counter, .. } = dec else { panic!("{dec:?}") };
    assert_eq!((response.status, counter), (401, Counter::DeniedMissingToken));
    assert!(response.body.contains("Your session has expired"));
    // Without a session cookie at all, a form post is just unauthenticated.
    assert_eq!(
        d(decide(&mut g, &browser("/form", "").with(":method", "POST"), NOW_MS, true).0),
        D::Deny(Denial::MissingToken)
    );
}

#[test]
fn active_use_keeps_a_session_past_its_first_idle_deadline_and_idleness_ends_it() {
    let mut g = login_gate();
    let config = g.config.clone();
    let set =
        session::write(&config.login.as_ref().unwrap().session, &alice(NOW, json!({})), &[], &mut Rng(0)).unwrap();
    let mut cookie = sent_back(&set);
    // Used every 20 minutes for 3 hours: each re-issue moves the idle deadline on.
    for step in 1..=9 {
        let now_s = NOW + step * 1200;
        match decide(&mut g, &browser("/busy", &cookie), now_s * 1000, true).0 {
            Decision::Allow { set_cookies, .. } => {
                assert!(!set_cookies.is_empty(), "re-issued a quarter into the idle window (step {step})");
                cookie = sent_back(&set_cookies);
            }
            other => panic!("step {step}: {other:?}"),
        }
    }
    // Then idle for an hour: a new login.
    let idle_over = (NOW + 9 * 1200 + 3600) * 1000;
    assert_eq!(
        d(decide(&mut g, &browser("/busy", &cookie), idle_over, true).0),
        D::Respond(302, Counter::LoginStarted)
    );
}

#[test]
fn the_sign_in_unavailable_page_links_back_only_to_this_site() {
    let mut g = Gate::new(Rc::new(login_config(json!({}))));
    let clusters = g.config.clusters.clone();
    let _ = g.providers[0].poll(NOW_MS, &clusters);
    g.providers[0].on_response(FetchKind::Discovery, None, b"", NOW_MS, REFRESH);
    for (path, link) in [("//evil.example/", "/"), ("/\\evil.example", "/"), ("/reports?y=2026", "/reports?y=2026")] {
        let (dec, _) = decide(&mut g, &browser(path, ""), NOW_MS, true);
        let Decision::Respond { response, counter, .. } = dec else { panic!("{dec:?}") };
        assert_eq!((response.status, counter), (503, Counter::DeniedUnavailable));
        assert!(response.body.contains(&format!("<a href=\"{link}\">Start again</a>")), "{path}: {}", response.body);
    }
}

#[test]
fn identity_headers_per_issuer_and_unverified_email() {
    let other = "https://other.example.com";
    let mut g = Gate::new(Rc::new(config(json!({
        "identity_headers": {"x-user-id": "sub", "x-user-email": "email"},
        "require_email_verified": true,
        "bearer": {"audiences": ["api"], "issuers": [{"issuer": other, "audiences": ["api"],
            "identity_headers": {"x-partner-id": "sub", "x-partner-iss": "iss"}}]},
    }))));
    assert_eq!(g.config.identity.all_headers, vec!["x-partner-id", "x-partner-iss", "x-user-email", "x-user-id"]);
    let clusters = g.config.clusters.clone();
    feed_keys(&mut g, &jwks(&[(&rsa_a(), "k1")]), NOW_MS);
    let doc = json!({"issuer": other, "jwks_uri": "https://other.example.com/jwks"}).to_string();
    feed(&mut g.providers[1], &clusters, &doc, &jwks(&[(&rsa_a(), "k1")]), NOW_MS);
    let headers = |g: &mut Gate, claims: serde_json::Value| match decide(
        g,
        &facts("/x", Some(&sign(&rsa_a(), Alg::RS256, "k1", &claims))),
        NOW_MS,
        true,
    )
    .0
    {
        Decision::Allow { identity, .. } => identity.headers.clone(),
        other => panic!("{other:?}"),
    };
    let pair = |h: &str, v: &str| (h.to_string(), v.to_string());
    let mine = json!({"iss": ISS, "sub": "u1", "aud": "api", "exp": NOW + 300, "email": "ceo@corp.example"});
    assert_eq!(headers(&mut g, mine.clone()), vec![pair("x-user-id", "u1")], "an unverified email is no email");
    let mut verified = mine;
    verified["email_verified"] = json!(true);
    assert_eq!(headers(&mut g, verified), vec![pair("x-user-email", "ceo@corp.example"), pair("x-user-id", "u1")]);
    let theirs =
        json!({"iss": other, "sub": "u1", "aud": "api", "exp": NOW + 300, "email": "x@y", "email_verified": true});
    assert_eq!(headers(&mut g, theirs), vec![pair("x-partner-id", "u1"), pair("x-partner-iss", other)]);
}

/// A token header sent twice (the host joins the lines with `,`): refused, never skipped
/// while a session lets the request through and the app reads the unchecked second line.
#[test]
fn a_token_header_sent_twice_is_refused_even_beside_a_session() {
    let mut g = Gate::new(Rc::new(login_config(json!({"bearer": {"audiences": ["api"],
        "token_headers": ["flyte-authorization"]}}))));
    feed_keys(&mut g, &jwks(&[(&rsa_a(), "k1")]), NOW_MS);
    let config = g.config.clone();
    let set =
        session::write(&config.login.as_ref().unwrap().session, &alice(NOW, json!({})), &[], &mut Rng(0)).unwrap();
    let cookie = set[0].split(';').next().unwrap().to_string();
    let (dec, _) = decide(&mut g, &browser("/a", &cookie), NOW_MS, true);
    assert!(matches!(d(dec), D::Allow(_, Counter::AllowedSession)));
    for twice in ["x,Bearer forged.x.y", ",Bearer forged.x.y", "Bearer a.b.c,Bearer forged.x.y"] {
        let (dec, _) = decide(&mut g, &browser("/a", &cookie).with("flyte-authorization", twice), NOW_MS, true);
        assert_eq!(d(dec), D::Deny(Denial::InvalidToken(JwtError::Malformed)), "{twice}");
    }
    // The same through `Authorization` (Envoy folds its lines with `,`): a `Bearer` after a
    // `,` is refused; a credential of another scheme, commas and all, is the app's.
    for twice in ["Basic eA==,Bearer forged.x.y", "x, bearer forged.x.y"] {
        let (dec, _) = decide(&mut g, &browser("/a", &cookie).with("authorization", twice), NOW_MS, true);
        assert_eq!(d(dec), D::Deny(Denial::InvalidToken(JwtError::Malformed)), "{twice}");
    }
    let digest = r#"Digest username="u", realm="r", nonce="n", uri="/a", response="x""#;
    let (dec, _) = decide(&mut g, &browser("/a", &cookie).with("authorization", digest), NOW_MS, true);
    assert!(matches!(d(dec), D::Allow(_, Counter::AllowedSession)));
}
