//! The login side of real IdPs' bends: fixed authorization parameters (Auth0's `audience`,
//! Google's `hd`), the IdP's own logout URL (Auth0, Cognito), ID tokens with Google's bare
//! issuer or an Entra tenant's, GitLab's groups from userinfo, and an Entra groups
//! overage resolved through Microsoft Graph.

use serde_json::{json, Value};

use super::callback::LoginContext;
use super::id_token::{on_graph_response, on_token_response, on_userinfo_response};
use super::start::{Ask, Start};
use super::tests::flow;
use super::*;
use crate::core::config::Config;
use crate::core::idp::Provider;
use crate::core::testing::keys::{jwks, rsa_a, sign};
use crate::core::testing::{discovery, feed, login_config, FixedRng as Rng, ISS, NOW_S as NOW};
use crate::core::token::{Alg, JwtError};
use crate::core::web::{form, LocalResponse, Origin};

fn origin() -> Origin {
    Origin { scheme: "https", authority: "app.example.com".into() }
}

fn provider(c: &Config, discovery_extra: Value) -> Provider {
    let mut p = Provider::new(c.issuers[0].clone());
    feed(&mut p, &c.clusters, &discovery(discovery_extra), &jwks(&[(&rsa_a(), "k1")]), 0);
    p
}

fn location(r: &LocalResponse) -> String {
    r.headers.iter().find(|(n, _)| *n == "location").map(|(_, v)| v.clone()).unwrap_or_default()
}

fn token_body(claims: Value) -> Vec<u8> {
    let mut all =
        json!({"iss": ISS, "sub": "alice", "aud": "web", "exp": NOW + 300, "iat": NOW, "nonce": "n".repeat(43)});
    for (k, v) in claims.as_object().unwrap() {
        all[k] = v.clone();
    }
    json!({"id_token": sign(&rsa_a(), Alg::RS256, "k1", &all), "access_token": "at", "token_type": "Bearer"})
        .to_string()
        .into_bytes()
}

#[test]
fn authorization_params_are_added_to_the_authorization_request() {
    let c = login_config(json!({"authorization_params": {"audience": "https://api.example.com", "hd": "example.com"}}));
    let p = provider(&c, json!({}));
    let req = Start { origin: &origin(), target: "/", cookie_header: None, ask: Ask::default() };
    let r = start(c.login.as_ref().unwrap(), p.metadata.as_ref().unwrap(), &req, NOW, &mut Rng(0)).unwrap();
    let loc = location(&r);
    let q = form::parse(loc.split_once('?').unwrap().1).unwrap();
    assert_eq!(form::get(&q, "audience"), Some("https://api.example.com"));
    assert_eq!(form::get(&q, "hd"), Some("example.com"));
    assert_eq!(form::get(&q, "response_type"), Some("code"), "the filter's own parameters stay");
}

#[test]
fn logout_url_replaces_the_end_session_endpoint_with_its_values_encoded() {
    let c = login_config(json!({"post_logout_redirect": "/bye?x=1&y=2",
        "logout_url": "https://auth.example.com/logout?client_id={client_id}&logout_uri={post_logout_redirect}"}));
    let p = provider(&c, json!({}));
    let r = logout::logout(c.login.as_ref().unwrap(), p.metadata.as_ref(), &origin(), None, NOW);
    assert_eq!(
        location(&r),
        "https://auth.example.com/logout?client_id=web&logout_uri=https%3A%2F%2Fapp.example.com%2Fbye%3Fx%3D1%26y%3D2"
    );
    // Without one, the discovered end_session_endpoint; without that either, straight back.
    let plain = login_config(json!({}));
    let r = logout::logout(
        plain.login.as_ref().unwrap(),
        provider(&plain, json!({})).metadata.as_ref(),
        &origin(),
        None,
        NOW,
    );
    assert!(location(&r).starts_with("https://idp.example.com/logout?"));
    let none = provider(&plain, json!({"end_session_endpoint": null}));
    assert_eq!(
        location(&logout::logout(plain.login.as_ref().unwrap(), none.metadata.as_ref(), &origin(), None, NOW)),
        "/"
    );
}

fn checked(c: &Config, p: &Provider, claims: Value) -> Result<id_token::Checked, LoginError> {
    let ctx = LoginContext { config: c, login: c.login.as_ref().unwrap(), provider: p };
    on_token_response(&ctx, &flow(), Some(200), &token_body(claims), NOW)
}

#[test]
fn google_id_tokens_with_the_bare_issuer_need_an_alias() {
    let c = login_config(json!({}));
    let p = provider(&c, json!({}));
    assert_eq!(
        checked(&c, &p, json!({"iss": "idp.example.com"})).unwrap_err(),
        LoginError::IdToken(JwtError::UnknownIssuer)
    );
    let c = login_config(json!({"issuer_aliases": ["idp.example.com"]}));
    let p = provider(&c, json!({}));
    assert!(checked(&c, &p, json!({"iss": "idp.example.com"})).is_ok());
}

#[test]
fn gitlab_groups_missing_from_the_id_token_come_from_userinfo() {
    let c = login_config(json!({"groups_header": {"header": "x-groups"}}));
    let p = provider(&c, json!({}));
    let got = checked(&c, &p, json!({"groups_direct": ["acme/dev"]})).unwrap();
    let callout = got.userinfo.expect("userinfo is asked for the groups");
    assert_eq!(callout.target.path, "/me");
    let ctx = LoginContext { config: &c, login: c.login.as_ref().unwrap(), provider: &p };
    let mut session = got.session;
    let info = br#"{"sub":"alice","groups":["acme","acme/dev","acme/ops"]}"#;
    on_userinfo_response(&ctx, &mut session, Some(200), info).unwrap();
    assert_eq!(session.claims.get("groups"), Some(&json!(["acme", "acme/dev", "acme/ops"])));
    // Marked as read from userinfo: a refresh, whose ID token never names them, keeps them.
    let filled = crate::core::identity::overage::FILLED;
    assert_eq!(session.claims.get(filled), Some(&json!(true)));
    let mut in_token = checked(&c, &p, json!({"groups": ["acme"]})).unwrap().session;
    on_userinfo_response(&ctx, &mut in_token, Some(200), info).unwrap();
    assert_eq!(in_token.claims.get(filled), None, "the ID token named them");
}

fn entra(extra: Value) -> Config {
    let mut cfg = json!({"issuer": "https://login.microsoftonline.com/organizations/v2.0", "tenants": ["t1"],
        "graph_url": "https://graph.microsoft.com", "idp_clusters": {"graph.microsoft.com": "graph"},
        "authorization": {"rules": [{"path": {"prefix": "/admin"}, "groups_any": ["g-admins"]}]}});
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    login_config(cfg)
}

fn entra_provider(c: &Config) -> Provider {
    provider(c, json!({"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"}))
}

fn entra_claims(extra: Value) -> Value {
    let mut c = json!({"iss": "https://login.microsoftonline.com/t1/v2.0", "tid": "t1"});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

#[test]
fn an_entra_id_token_of_an_allowed_tenant_signs_in_and_others_do_not() {
    let c = entra(json!({}));
    let p = entra_provider(&c);
    let got = checked(&c, &p, entra_claims(json!({}))).unwrap();
    assert!(got.graph.is_none(), "no overage, no Graph call");
    let other = entra_claims(json!({"iss": "https://login.microsoftonline.com/t2/v2.0", "tid": "t2"}));
    assert_eq!(checked(&c, &p, other).unwrap_err(), LoginError::IdToken(JwtError::UnknownIssuer));
}

#[test]
fn an_entra_groups_overage_is_resolved_through_graph_at_login() {
    let over = json!({"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": "https://graph.windows.net/x"}}});
    let c = entra(json!({}));
    let p = entra_provider(&c);
    let got = checked(&c, &p, entra_claims(over.clone())).unwrap();
    let callout = got.graph.expect("a Graph call");
    assert_eq!(
        (callout.method, callout.target.cluster.as_str(), callout.target.path.as_str()),
        ("POST", "graph", "/v1.0/me/getMemberObjects")
    );
    assert!(callout.headers.contains(&("authorization", "Bearer at".to_string())));
    let ctx = LoginContext { config: &c, login: c.login.as_ref().unwrap(), provider: &p };
    let mut session = got.session;
    assert!(session.claims.contains_key("_claim_names"), "the marker is kept until resolved");
    on_graph_response(&ctx, &mut session, Some(200), br#"{"value":["g-admins","g-other"]}"#).unwrap();
    // No groups header: only the groups the rules name are kept.
    assert_eq!(session.claims.get("groups"), Some(&json!(["g-admins"])));
    assert!(!session.claims.contains_key("_claim_names"));
    // With a groups header, all of them.
    let c = entra(json!({"groups_header": {"header": "x-groups"}}));
    let ctx = LoginContext { config: &c, login: c.login.as_ref().unwrap(), provider: &p };
    on_graph_response(&ctx, &mut session, Some(200), br#"{"value":["g-admins","g-other"]}"#).unwrap();
    assert_eq!(session.claims.get("groups"), Some(&json!(["g-admins", "g-other"])));
    // Graph refusing fails the login, never a session without groups.
    assert_eq!(
        on_graph_response(&ctx, &mut session, Some(403), b"{}"),
        Err(LoginError::Graph { status: Some(403), malformed: false })
    );
    // Without graph_url, no call: the marker stays, and the rules say why.
    let c = entra(json!({"graph_url": null}));
    let got = checked(&c, &entra_provider(&c), entra_claims(over)).unwrap();
    assert!(got.graph.is_none() && got.session.claims.contains_key("_claim_names"));
}

/// A login through userinfo and Microsoft Graph, Graph answering `graph_answer`.
fn whole_callback(c: &Config, graph_answer: &[u8]) -> Step {
    let p = entra_provider(c);
    let ctx = LoginContext { config: c, login: c.login.as_ref().unwrap(), provider: &p };
    let (q, cookie) = {
        let req = Start { origin: &origin(), target: "/admin", cookie_header: None, ask: Ask::default() };
        let r = start(ctx.login, p.metadata.as_ref().unwrap(), &req, NOW, &mut Rng(0)).unwrap();
        let loc = location(&r);
        let set = r.headers.iter().find(|(n, _)| *n == "set-cookie").map(|(_, v)| v.clone()).unwrap();
        (form::parse(loc.split_once('?').unwrap().1).unwrap(), set.split(';').next().unwrap().to_string())
    };
    let state = form::get(&q, "state").unwrap();
    let nonce = form::get(&q, "nonce").unwrap().to_string();
    let query = format!("code=c&state={state}");
    let req = CallbackRequest {
        origin: &origin(),
        query: &query,
        cookie_header: Some(&cookie),
        request_id: None,
        now_s: NOW,
    };
    let Step::Call(cb, _) = Callback::begin(&ctx, &req, &mut Rng(0)) else { panic!("no exchange") };
    let claims = entra_claims(json!({"nonce": nonce, "_claim_names": {"groups": "src1"}}));
    let Step::Call(cb, userinfo) = cb.on_response(&ctx, Some(200), &token_body(claims), NOW, &mut Rng(1)) else {
        panic!("no userinfo")
    };
    assert_eq!(userinfo.method, "GET");
    let Step::Call(cb, graph) = cb.on_response(&ctx, Some(200), br#"{"sub":"alice","name":"Alice"}"#, NOW, &mut Rng(2))
    else {
        panic!("no Graph call")
    };
    assert_eq!(graph.method, "POST");
    cb.on_response(&ctx, Some(200), graph_answer, NOW, &mut Rng(3))
}

#[test]
fn the_whole_callback_runs_userinfo_then_graph() {
    let c = entra(json!({"identity_headers": {"x-name": "name"}}));
    let step = whole_callback(&c, br#"{"value":["g-admins"]}"#);
    assert!(matches!(step, Step::Done(_)), "{step:?}");
}

#[test]
fn more_graph_groups_than_the_session_cookie_holds_fail_the_login() {
    let c = entra(json!({"identity_headers": {"x-name": "name"}, "groups_header": {"header": "x-groups"}}));
    let ids: Vec<String> = (0..1000).map(|i| format!("bbbbbbbb-0000-4000-8000-{i:012}")).collect();
    let step = whole_callback(&c, json!({"value": ids}).to_string().as_bytes());
    assert!(matches!(step, Step::Failed(_, LoginError::SessionTooLarge)), "{step:?}");
    // Without a groups header only the groups the rules name are kept: the same answer fits.
    let c = entra(json!({"identity_headers": {"x-name": "name"}}));
    let mut ids = ids;
    ids.push("g-admins".into());
    let step = whole_callback(&c, json!({"value": ids}).to_string().as_bytes());
    assert!(matches!(step, Step::Done(_)), "{step:?}");
}

#[test]
fn a_step_ups_own_parameters_win_over_fixed_authorization_params() {
    let c =
        login_config(json!({"authorization_params": {"prompt": "consent", "acr_values": "pwd", "hd": "example.com"}}));
    let p = provider(&c, json!({}));
    let step = crate::core::authz::StepUp { acr_values: vec!["mfa".into()], max_age: Some(900) };
    let req =
        Start { origin: &origin(), target: "/", cookie_header: None, ask: Ask { step_up: Some(&step), again: true } };
    let r = start(c.login.as_ref().unwrap(), p.metadata.as_ref().unwrap(), &req, NOW, &mut Rng(0)).unwrap();
    let q = form::parse(location(&r).split_once('?').unwrap().1).unwrap();
    let all = |name: &str| q.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
    assert_eq!(all("prompt"), vec!["login"]);
    assert_eq!(all("acr_values"), vec!["mfa"]);
    assert_eq!(all("max_age"), vec!["900"]);
    assert_eq!(all("hd"), vec!["example.com"], "other fixed parameters stay");
}
