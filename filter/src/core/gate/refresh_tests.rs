//! Sessions renewed inline by their refresh token, one refresh per stale session per
//! Envoy, ended by `invalid_grant`, and never ended by an IdP that is down.

use serde_json::{json, Value};
use std::rc::Rc;

use super::*;
use crate::core::identity::Authorization;
use crate::core::session::{self, Session};
use crate::core::testing::keys::{jwks, rsa_a, sign};
use crate::core::testing::{
    cookie_header, discovery, feed, login_config, session as alice, session_key, FixedRng, MapHeaders, TestIo, ISS,
    NOW_MS, NOW_S,
};
use crate::core::token::Alg;
use crate::core::web::form;

fn gate(extra: Value) -> Gate {
    let mut cfg = json!({"session": {"keys": [session_key(7)], "refresh": true, "refresh_margin": "30s"},
        "identity_headers": {"x-user-id": "sub", "x-user-email": "email"},
        "forward_access_token": true, "forward_id_token": {"header": "x-id-token"}});
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    let mut g = Gate::new(Rc::new(login_config(cfg)));
    let clusters = g.config.clusters.clone();
    feed(&mut g.providers[0], &clusters, &discovery(json!({})), &jwks(&[(&rsa_a(), "k1")]), NOW_MS);
    g
}

/// A session whose access token expires at `access_exp`, as its cookie.
fn cookie(g: &Gate, access_exp: u64) -> String {
    let mut s = alice(NOW_S, json!({"email": "alice@example.com"}));
    s.refresh_token = Some("rt-1".into());
    s.access_token = Some("at-1".into());
    s.access_exp = Some(access_exp);
    s.id_token = Some("id.token.1".into());
    let config = &g.config.login.as_ref().unwrap().session;
    cookie_header(&session::write(config, &s, &[], &mut FixedRng(1)).unwrap())
}

fn page(cookie: &str) -> MapHeaders {
    MapHeaders::new(&[
        (":path", "/p"),
        (":method", "GET"),
        (":authority", "app.example.com"),
        ("accept", "text/html"),
        ("cookie", cookie),
    ])
}

fn api(cookie: &str) -> MapHeaders {
    page(cookie).with("sec-fetch-mode", "cors").with("accept", "application/json")
}

fn decide(g: &mut Gate, io: &mut TestIo, h: &MapHeaders, now_ms: u64) -> Decision {
    io.run(|io| g.decide(&mut h.clone(), now_ms, true, io))
}

fn answer(
    g: &mut Gate,
    io: &mut TestIo,
    pending: Pending,
    status: Option<u16>,
    body: &Value,
    h: &MapHeaders,
    now_ms: u64,
) -> Decision {
    let body = body.to_string();
    io.run(|io| g.resume(pending, Answer { status, body: body.as_bytes() }, now_ms, &mut h.clone(), io))
}

/// The session in the response's cookie.
fn reissued(g: &Gate, set_cookies: &[String]) -> Session {
    let config = &g.config.login.as_ref().unwrap().session;
    match session::read(config, Some(&cookie_header(set_cookies)), NOW_S + 100) {
        session::SessionState::Valid { session, .. } => session,
        other => panic!("{other:?}"),
    }
}

fn tokens(rt: &str) -> Value {
    let id_token = sign(
        &rsa_a(),
        Alg::RS256,
        "k1",
        &json!({"iss": ISS, "sub": "alice", "aud": "web", "exp": NOW_S + 600,
        "iat": NOW_S, "email": "alice@new.example"}),
    );
    json!({"access_token": "at-2", "refresh_token": rt, "expires_in": 300, "id_token": id_token, "token_type": "Bearer"})
}

#[test]
fn a_session_not_due_is_served_with_its_tokens_forwarded_and_no_call() {
    let mut g = gate(json!({}));
    let mut io = TestIo::new(0);
    let c = cookie(&g, NOW_S + 600);
    let Decision::Allow { identity, set_cookies, .. } = decide(&mut g, &mut io, &page(&c), NOW_MS) else { panic!() };
    assert!(set_cookies.is_empty());
    assert_eq!(identity.authorization, Authorization::Bearer("Bearer at-1".into()));
    assert!(identity.headers.contains(&("x-id-token".to_string(), "id.token.1".to_string())));
    assert!(g.config.identity.all_headers.contains(&"x-id-token".to_string()), "spoofed copies are removed");
}

#[test]
fn a_stale_session_is_renewed_inline_and_the_response_carries_the_new_cookie() {
    let mut g = gate(json!({}));
    let mut io = TestIo::new(0);
    let c = cookie(&g, NOW_S + 20); // within refresh_margin (30s)
    let Decision::Call { callout, pending } = decide(&mut g, &mut io, &page(&c), NOW_MS) else { panic!("no refresh") };
    let body = form::parse(callout.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        (form::get(&body, "grant_type"), form::get(&body, "refresh_token")),
        (Some("refresh_token"), Some("rt-1"))
    );
    assert_eq!(callout.target.path, "/token");
    let Decision::Allow { identity, set_cookies, .. } =
        answer(&mut g, &mut io, pending, Some(200), &tokens("rt-2"), &page(&c), NOW_MS)
    else {
        panic!()
    };
    assert_eq!(identity.authorization, Authorization::Bearer("Bearer at-2".into()));
    assert!(identity.headers.contains(&("x-user-email".to_string(), "alice@new.example".to_string())));
    let renewed = reissued(&g, &set_cookies);
    assert_eq!((renewed.refresh_token.as_deref(), renewed.access_exp), (Some("rt-2"), Some(NOW_S + 300)));
    assert_eq!(io.seen.iter().filter(|c| **c == Counter::SessionRefreshed).count(), 1);
}

#[test]
fn requests_with_the_same_stale_cookie_on_other_workers_wait_and_share_one_refresh() {
    let (mut w1, mut w2) = (gate(json!({})), gate(json!({})));
    let c = cookie(&w1, NOW_S + 20);
    let mut io1 = TestIo::new(1);
    let Decision::Call { pending, .. } = decide(&mut w1, &mut io1, &page(&c), NOW_MS) else { panic!() };
    let mut io2 = TestIo { store: std::mem::take(&mut io1.store), ..TestIo::new(2) };
    assert!(matches!(decide(&mut w2, &mut io2, &page(&c), NOW_MS), Decision::Wait { on: WaitFor::Flight(_), .. }));
    io1.store = std::mem::take(&mut io2.store);
    assert!(matches!(
        answer(&mut w1, &mut io1, pending, Some(200), &tokens("rt-2"), &page(&c), NOW_MS),
        Decision::Allow { .. }
    ));
    // The waiter, decided again, takes the renewed session without a call of its own.
    io2.store = std::mem::take(&mut io1.store);
    let again = io2.run(|io| w2.decide(&mut page(&c), NOW_MS + 50, false, io));
    let Decision::Allow { set_cookies, .. } = again else { panic!("{again:?}") };
    assert_eq!(reissued(&w2, &set_cookies).refresh_token.as_deref(), Some("rt-2"));
}

#[test]
fn invalid_grant_ends_the_session_a_login_for_a_page_a_401_for_an_api_cookies_cleared() {
    for (headers, want) in [(page as fn(&str) -> MapHeaders, 302), (api, 401)] {
        let mut g = gate(json!({}));
        let mut io = TestIo::new(0);
        let c = cookie(&g, NOW_S + 20);
        let Decision::Call { pending, .. } = decide(&mut g, &mut io, &headers(&c), NOW_MS) else { panic!() };
        let refused = json!({"error": "invalid_grant"});
        let Decision::Respond { response, .. } =
            answer(&mut g, &mut io, pending, Some(400), &refused, &headers(&c), NOW_MS)
        else {
            panic!()
        };
        assert_eq!(response.status, want);
        assert!(response.headers.iter().any(|(n, v)| *n == "set-cookie" && v.starts_with("__Host-oidc_session=;")));
        // The same cookie elsewhere, later: ended too, without another call.
        let d = decide(&mut g, &mut io, &headers(&c), NOW_MS + 1000);
        assert!(matches!(d, Decision::Respond { .. }), "{d:?}");
        assert!(io.seen.contains(&Counter::SessionEnded));
    }
}

#[test]
fn an_idp_that_is_down_never_ends_a_session_and_the_refresh_is_retried_after_a_back_off() {
    let mut g = gate(json!({}));
    let mut io = TestIo::new(0);
    let c = cookie(&g, NOW_S + 20);
    let Decision::Call { pending, .. } = decide(&mut g, &mut io, &page(&c), NOW_MS) else { panic!() };
    let d = answer(&mut g, &mut io, pending, None, &json!({}), &page(&c), NOW_MS);
    let Decision::Allow { identity, set_cookies, .. } = d else { panic!("{d:?}") };
    assert!(set_cookies.is_empty(), "served from the session as it is");
    assert_eq!(identity.authorization, Authorization::Bearer("Bearer at-1".into()));
    // Within the back-off: served without a call; after it: one more try.
    assert!(matches!(decide(&mut g, &mut io, &page(&c), NOW_MS + 1000), Decision::Allow { .. }));
    assert!(matches!(decide(&mut g, &mut io, &page(&c), NOW_MS + 2500), Decision::Call { .. }));
    // A 5xx is no refusal either.
    let Decision::Call { pending, .. } = decide(&mut g, &mut io, &page(&c), NOW_MS + 10_000) else { panic!() };
    let d = answer(
        &mut g,
        &mut io,
        pending,
        Some(503),
        &json!({"error": "temporarily_unavailable"}),
        &page(&c),
        NOW_MS + 10_000,
    );
    assert!(matches!(d, Decision::Allow { .. }), "{d:?}");
}

#[test]
fn a_refreshed_id_token_for_another_sub_is_refused() {
    let mut g = gate(json!({}));
    let mut io = TestIo::new(0);
    let c = cookie(&g, NOW_S + 20);
    let Decision::Call { pending, .. } = decide(&mut g, &mut io, &page(&c), NOW_MS) else { panic!() };
    let mallory = sign(
        &rsa_a(),
        Alg::RS256,
        "k1",
        &json!({"iss": ISS, "sub": "mallory", "aud": "web", "exp": NOW_S + 600, "iat": NOW_S}),
    );
    let body = json!({"access_token": "at-m", "refresh_token": "rt-m", "expires_in": 300, "id_token": mallory});
    let Decision::Allow { identity, set_cookies, .. } =
        answer(&mut g, &mut io, pending, Some(200), &body, &page(&c), NOW_MS)
    else {
        panic!()
    };
    assert!(set_cookies.is_empty());
    assert_eq!(identity.authorization, Authorization::Bearer("Bearer at-1".into()));
    assert!(io.logs.iter().any(|l| l.contains("refreshed ID token names another sub")));
}

#[test]
fn without_refresh_nothing_changes() {
    let mut g = gate(json!({"session": {"keys": [session_key(7)]}}));
    let mut io = TestIo::new(0);
    let c = cookie(&g, NOW_S - 100); // even long expired
    assert!(matches!(decide(&mut g, &mut io, &page(&c), NOW_MS), Decision::Allow { .. }));
}

#[test]
fn a_shared_outcome_no_newer_than_the_session_is_no_reason_to_skip_a_due_refresh() {
    let mut g = gate(json!({"session": {"keys": [session_key(7)], "refresh": true, "refresh_margin": "10m"}}));
    let mut io = TestIo::new(0);
    let c = cookie(&g, NOW_S + 20);
    let Decision::Call { pending, .. } = decide(&mut g, &mut io, &page(&c), NOW_MS) else { panic!() };
    // The IdP does not rotate: the renewed session has the same refresh token, and with a
    // 10-minute margin its 5-minute access token is due at once.
    let same_rt = json!({"access_token": "at-2", "expires_in": 300});
    let Decision::Allow { set_cookies, .. } = answer(&mut g, &mut io, pending, Some(200), &same_rt, &page(&c), NOW_MS)
    else {
        panic!()
    };
    let renewed = cookie_header(&set_cookies);
    assert!(matches!(decide(&mut g, &mut io, &page(&renewed), NOW_MS + 1000), Decision::Call { .. }));
}

#[test]
fn a_renewal_within_the_same_second_still_counts_as_newer_for_the_waiters() {
    let (mut w1, mut w2) = (gate(json!({})), gate(json!({})));
    let c = cookie(&w1, NOW_S + 20);
    let mut io1 = TestIo::new(1);
    let Decision::Call { pending, .. } = decide(&mut w1, &mut io1, &page(&c), NOW_MS) else { panic!() };
    // The renewed access token happens to expire in the very second the old one did.
    let same_second = json!({"access_token": "at-2", "refresh_token": "rt-1", "expires_in": 20});
    assert!(matches!(
        answer(&mut w1, &mut io1, pending, Some(200), &same_second, &page(&c), NOW_MS),
        Decision::Allow { .. }
    ));
    let mut io2 = TestIo { store: std::mem::take(&mut io1.store), ..TestIo::new(2) };
    let again = io2.run(|io| w2.decide(&mut page(&c), NOW_MS + 50, false, io));
    assert!(matches!(again, Decision::Allow { ref set_cookies, .. } if !set_cookies.is_empty()), "{again:?}");
}

/// Two refresh tokens whose shared slots start at the same place.
fn colliding_refresh_tokens() -> (String, String) {
    use crate::core::session::refresh::id_of;
    let slot = |t: &str| {
        let id = id_of(t);
        u64::from_le_bytes([id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7]])
            % crate::core::shared::flight::SLOTS
    };
    let first = "rt-alice".to_string();
    let target = slot(&first);
    let second = (0..100_000).map(|n| format!("rt-bob-{n}")).find(|t| slot(t) == target).unwrap();
    (first, second)
}

fn stale_cookie_with(g: &Gate, sub: &str, rt: &str) -> String {
    let mut s = alice(NOW_S, json!({}));
    s.sub = sub.into();
    s.refresh_token = Some(rt.into());
    s.access_exp = Some(NOW_S + 20);
    let config = &g.config.login.as_ref().unwrap().session;
    cookie_header(&session::write(config, &s, &[], &mut FixedRng(3)).unwrap())
}

#[test]
fn sessions_whose_slots_collide_each_refresh_once_and_their_requests_still_share() {
    let mut g = gate(json!({}));
    let mut io = TestIo::new(0);
    let (rt_alice, rt_bob) = colliding_refresh_tokens();
    let alice_cookie = stale_cookie_with(&g, "alice", &rt_alice);
    let bob_cookie = stale_cookie_with(&g, "bob", &rt_bob);
    assert!(matches!(decide(&mut g, &mut io, &page(&alice_cookie), NOW_MS), Decision::Call { .. }));
    let Decision::Call { callout, .. } = decide(&mut g, &mut io, &page(&bob_cookie), NOW_MS) else {
        panic!("Bob gets a slot of his own")
    };
    assert!(callout.body.as_deref().unwrap().contains(&rt_bob));
    // Bob's second request waits for his first: his refresh token is sent once.
    assert!(matches!(decide(&mut g, &mut io, &page(&bob_cookie), NOW_MS), Decision::Wait { .. }));
}

#[test]
fn a_renewed_session_is_held_to_the_rules_like_any_other() {
    // Found by the `gate` fuzz target: the decision after a refresh skipped authorization.
    let rules = json!({"authorization": {"rules": [{"path": {"prefix": "/admin"}, "groups_any": ["admins"]}]}});
    let admin = |c: &str| page(c).with(":path", "/admin/x");
    for answered in [Some(200), None] {
        let mut g = gate(rules.clone());
        let mut io = TestIo::new(0);
        let c = cookie(&g, NOW_S + 20);
        let Decision::Call { pending, .. } = decide(&mut g, &mut io, &admin(&c), NOW_MS) else { panic!("no refresh") };
        let d = answer(&mut g, &mut io, pending, answered, &tokens("rt-2"), &admin(&c), NOW_MS);
        let Decision::Respond { response, counter, .. } = d else { panic!("{answered:?}: {d:?}") };
        assert_eq!((response.status, counter), (403, Counter::DeniedForbidden), "{answered:?}");
    }
}

#[test]
fn a_session_ended_by_its_refresh_on_a_public_path_has_its_cookies_cleared() {
    let rules = json!({"authorization": {"rules": [{"path": {"prefix": "/pub"}, "allow": "anyone"}]}});
    let mut g = gate(rules);
    let mut io = TestIo::new(0);
    let c = cookie(&g, NOW_S + 20);
    let p = page(&c).with(":path", "/pub/x");
    let Decision::Call { pending, .. } = decide(&mut g, &mut io, &p, NOW_MS) else { panic!("no refresh") };
    let d = answer(&mut g, &mut io, pending, Some(400), &json!({"error": "invalid_grant"}), &p, NOW_MS);
    let Decision::Allow { set_cookies, counter, .. } = d else { panic!("{d:?}") };
    assert_eq!(counter, Counter::AllowedPublic);
    assert!(!set_cookies.is_empty() && set_cookies.iter().all(|c| c.contains("Max-Age=0")), "{set_cookies:?}");
}

/// A stale session of alice with these claims, and the refresh's answer whose ID token
/// carries an Entra ID groups overage instead of `groups`.
fn overage_refresh(g: &Gate, claims: serde_json::Map<String, Value>) -> (String, Value) {
    refresh_with(
        g,
        claims,
        json!({"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": "https://graph"}}}),
    )
}

/// A stale session of alice with these claims, and the refresh's answer whose ID token
/// adds `extra` to alice's registered claims.
fn refresh_with(g: &Gate, claims: serde_json::Map<String, Value>, extra: Value) -> (String, Value) {
    let mut s = alice(NOW_S, json!({}));
    s.claims.extend(claims);
    (s.refresh_token, s.access_exp) = (Some("rt-1".into()), Some(NOW_S + 20));
    let config = &g.config.login.as_ref().unwrap().session;
    let c = cookie_header(&session::write(config, &s, &[], &mut FixedRng(1)).unwrap());
    let mut claims = json!({"iss": ISS, "sub": "alice", "aud": "web", "exp": NOW_S + 600, "iat": NOW_S});
    claims.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let id_token = sign(&rsa_a(), Alg::RS256, "k1", &claims);
    (c, json!({"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 300, "id_token": id_token}))
}

#[test]
fn a_refreshed_id_token_whose_groups_overflowed_does_not_keep_the_old_tokens_groups() {
    // alice signed in with `groups: ["admins"]` in her ID token; since, she left admins and
    // joined too many groups: the refreshed ID token names none. The old ones no longer hold.
    let rules = json!({"authorization": {"rules": [{"path": {"prefix": "/admin"}, "groups_any": ["admins"]}]}});
    let mut g = gate(rules.clone());
    let mut io = TestIo::new(0);
    let (c, refreshed) = overage_refresh(&g, json!({"groups": ["admins"]}).as_object().unwrap().clone());
    let admin = page(&c).with(":path", "/admin/x");
    let Decision::Call { pending, .. } = decide(&mut g, &mut io, &admin, NOW_MS) else { panic!("no refresh") };
    let d = answer(&mut g, &mut io, pending, Some(200), &refreshed, &admin, NOW_MS);
    let Decision::Respond { response, counter, .. } = d else { panic!("{d:?}") };
    assert_eq!((response.status, counter), (403, Counter::DeniedForbidden));
    assert!(io.logs.iter().any(|l| l.contains("groups overage")), "{:?}", io.logs);

    // Groups read from Microsoft Graph at login stay theirs, as a login's claims do.
    let mut g = gate(rules);
    let mut io = TestIo::new(0);
    let mut resolved = serde_json::Map::new();
    crate::core::identity::overage::resolve(&mut resolved, "groups", vec!["admins".into()]);
    let (c, refreshed) = overage_refresh(&g, resolved);
    let admin = page(&c).with(":path", "/admin/x");
    let Decision::Call { pending, .. } = decide(&mut g, &mut io, &admin, NOW_MS) else { panic!("no refresh") };
    let d = answer(&mut g, &mut io, pending, Some(200), &refreshed, &admin, NOW_MS);
    assert!(matches!(d, Decision::Allow { .. }), "{d:?}");
}

#[test]
fn a_refreshed_id_token_without_the_groups_no_longer_vouches_for_the_old_ones() {
    // Okta and Entra ID leave `groups` out of a token when the user is in no (matching)
    // group: alice, removed from admins, must not stay admin because the claim is missing.
    let rules = json!({"authorization": {"rules": [{"path": {"prefix": "/admin"}, "groups_any": ["admins"]}]}});
    let mut g = gate(rules.clone());
    let mut io = TestIo::new(0);
    let (c, refreshed) = refresh_with(&g, json!({"groups": ["admins"]}).as_object().unwrap().clone(), json!({}));
    let admin = page(&c).with(":path", "/admin/x");
    let Decision::Call { pending, .. } = decide(&mut g, &mut io, &admin, NOW_MS) else { panic!("no refresh") };
    let d = answer(&mut g, &mut io, pending, Some(200), &refreshed, &admin, NOW_MS);
    let Decision::Respond { response, .. } = d else { panic!("{d:?}") };
    assert_eq!(response.status, 403);

    // Groups that userinfo gave at login (GitLab's: never in its ID tokens) stay.
    let mut g = gate(rules);
    let mut io = TestIo::new(0);
    let mut filled = json!({"groups": ["admins"]}).as_object().unwrap().clone();
    crate::core::identity::overage::filled(&mut filled);
    let (c, refreshed) = refresh_with(&g, filled, json!({}));
    let admin = page(&c).with(":path", "/admin/x");
    let Decision::Call { pending, .. } = decide(&mut g, &mut io, &admin, NOW_MS) else { panic!("no refresh") };
    let d = answer(&mut g, &mut io, pending, Some(200), &refreshed, &admin, NOW_MS);
    assert!(matches!(d, Decision::Allow { .. }), "{d:?}");
}
