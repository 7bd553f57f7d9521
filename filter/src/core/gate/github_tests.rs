//! Sign in with GitHub through the gate: GitHub's endpoints without discovery, the code
//! exchange answered in a 200 either way, the person read from the API page by page, and
//! organisations and teams deciding who gets a session.

use serde_json::{json, Value};
use std::rc::Rc;

use super::*;
use crate::core::config::load;
use crate::core::session::{self, SessionState};
use crate::core::testing::{config_json, cookie_header, session_key, MapEnv, MapHeaders, TestIo, NOW_MS, NOW_S};
use crate::core::web::form;

fn github_config(github: Value, extra: Value) -> Value {
    let mut cfg = config_json(json!({"issuer": null, "bearer": null, "client_secret": "s3cret",
        "session": {"keys": [session_key(5)]}, "github": github,
        "idp_clusters": {"api.github.com": "github_api"},
        "identity_headers": {"x-user": "login", "x-user-id": "sub", "x-email": "email", "x-name": "name"},
        "groups_header": {"header": "x-groups"}}));
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    cfg
}

fn gate(github: Value) -> Gate {
    let cfg = github_config(github, json!({}));
    Gate::new(Rc::new(load(cfg.to_string().as_bytes(), &MapEnv::default()).expect("valid")))
}

fn page(path: &str, cookie: Option<&str>) -> MapHeaders {
    let h = MapHeaders::new(&[
        (":path", path),
        (":method", "GET"),
        (":authority", "app.example.com"),
        ("accept", "text/html"),
    ]);
    match cookie {
        Some(c) => h.with("cookie", c),
        None => h,
    }
}

fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
}

/// Starts a login: the authorize redirect's query and the browser's cookie.
fn start(g: &mut Gate, io: &mut TestIo) -> (Vec<(String, String)>, String) {
    let d = io.run(|io| g.decide(&mut page("/flags", None), NOW_MS, true, io));
    let Decision::Respond { response, .. } = d else { panic!("{d:?}") };
    assert_eq!(response.status, 302);
    let location = header(&response.headers, "location").unwrap();
    let (endpoint, query) = location.split_once('?').unwrap();
    assert_eq!(endpoint, "https://github.com/login/oauth/authorize");
    let set: Vec<String> =
        response.headers.iter().filter(|(n, _)| *n == "set-cookie").map(|(_, v)| v.clone()).collect();
    (form::parse(query).unwrap(), cookie_header(&set))
}

struct Api {
    user: Value,
    emails: Value,
    orgs: Vec<Value>,
    teams: Vec<Value>,
}

fn member() -> Api {
    Api {
        user: json!({"login": "Octo-Member", "id": 1001, "name": "Mona", "email": null}),
        emails: json!([{"email": "old@x.example", "primary": false, "verified": true},
                       {"email": "mona@flipt.example", "primary": true, "verified": true}]),
        orgs: vec![json!({"login": "Flipt-IO"}), json!({"login": "other-org"})],
        teams: vec![json!({"slug": "maintainers", "organization": {"login": "flipt-io"}})],
    }
}

/// Drives a callback to its end, answering each API call from `api`; returns the final
/// decision and the paths called.
fn sign_in(g: &mut Gate, io: &mut TestIo, api: &Api, token_answer: Value) -> (Decision, Vec<String>) {
    let (q, cookie) = start(g, io);
    let state = form::get(&q, "state").unwrap().to_string();
    let callback = page(&format!("/oauth2/callback?code=c0de&state={state}"), Some(&cookie));
    let mut d = io.run(|io| g.decide(&mut callback.clone(), NOW_MS, true, io));
    let mut paths = Vec::new();
    loop {
        let Decision::Call { callout, pending } = d else { return (d, paths) };
        let path = callout.target.path.clone();
        paths.push(format!("{} {}", callout.target.cluster, path));
        let body = if path == "/login/oauth/access_token" {
            let body = form::parse(callout.body.as_deref().unwrap()).unwrap();
            assert_eq!(form::get(&body, "client_secret"), Some("s3cret"), "GitHub takes the secret in the body");
            assert_eq!(form::get(&body, "code"), Some("c0de"));
            assert!(form::get(&body, "code_verifier").is_some());
            assert_eq!(header(&callout.headers, "accept"), Some("application/json"));
            token_answer.clone()
        } else {
            assert_eq!(header(&callout.headers, "authorization"), Some("Bearer gho_t0ken"));
            assert_eq!(header(&callout.headers, "x-github-api-version"), Some("2022-11-28"));
            let page_no: usize = path.split("&page=").nth(1).map_or(1, |p| p.parse().unwrap());
            let slice = |all: &[Value]| Value::Array(all.iter().skip((page_no - 1) * 100).take(100).cloned().collect());
            match path.split('?').next().unwrap() {
                "/user" => api.user.clone(),
                "/user/emails" => api.emails.clone(),
                "/user/orgs" => slice(&api.orgs),
                "/user/teams" => slice(&api.teams),
                other => panic!("unexpected call {other}"),
            }
        };
        let body = body.to_string();
        d = io.run(|io| {
            g.resume(pending, Answer { status: Some(200), body: body.as_bytes() }, NOW_MS, &mut callback.clone(), io)
        });
    }
}

fn token() -> Value {
    json!({"access_token": "gho_t0ken", "token_type": "bearer", "scope": "read:org,read:user,user:email"})
}

fn signed_in_headers(g: &mut Gate, io: &mut TestIo, d: Decision) -> Vec<(String, String)> {
    let Decision::Respond { response, counter, .. } = d else { panic!("{d:?}") };
    assert_eq!(counter, Counter::LoginCompleted);
    let set: Vec<String> =
        response.headers.iter().filter(|(n, _)| *n == "set-cookie").map(|(_, v)| v.clone()).collect();
    let cookie = cookie_header(&set);
    let config = &g.config.login.as_ref().unwrap().session;
    assert!(matches!(session::read(config, Some(&cookie), NOW_S), SessionState::Valid { .. }));
    let d = io.run(|io| g.decide(&mut page("/flags", Some(&cookie)), NOW_MS, true, io));
    let Decision::Allow { identity, .. } = d else { panic!("{d:?}") };
    identity.headers.clone()
}

#[test]
fn a_member_of_the_organisation_signs_in_with_login_email_and_teams() {
    let mut g = gate(json!({"organizations": ["flipt-io"]}));
    let mut io = TestIo::new(1);
    let (q, _) = start(&mut g, &mut io);
    assert_eq!(form::get(&q, "scope"), Some("read:user user:email read:org"));
    assert_eq!(form::get(&q, "code_challenge_method"), Some("S256"));
    let (d, paths) = sign_in(&mut g, &mut io, &member(), token());
    assert_eq!(
        paths,
        [
            "idp /login/oauth/access_token",
            "github_api /user",
            "github_api /user/emails?per_page=100",
            "github_api /user/orgs?per_page=100&page=1",
            "github_api /user/teams?per_page=100&page=1"
        ]
    );
    let headers = signed_in_headers(&mut g, &mut io, d);
    let get = |n: &str| headers.iter().find(|(h, _)| h == n).map(|(_, v)| v.as_str());
    assert_eq!(get("x-user"), Some("Octo-Member"));
    assert_eq!(get("x-user-id"), Some("1001"), "sub is the account id: a login can be renamed and taken");
    assert_eq!(get("x-email"), Some("mona@flipt.example"), "the verified primary address");
    assert_eq!(get("x-name"), Some("Mona"));
    assert_eq!(get("x-groups"), Some("flipt-io,flipt-io/maintainers,other-org"));
}

#[test]
fn a_non_member_gets_403_at_the_callback_and_no_session() {
    let mut g = gate(json!({"organizations": ["flipt-io"]}));
    let mut io = TestIo::new(1);
    let mut outsider = member();
    outsider.orgs = vec![json!({"login": "some-other-org"})];
    outsider.teams = vec![json!({"slug": "maintainers", "organization": {"login": "some-other-org"}})];
    let (d, _) = sign_in(&mut g, &mut io, &outsider, token());
    let Decision::Respond { response, counter, .. } = d else { panic!("{d:?}") };
    assert_eq!((response.status, counter), (403, Counter::LoginFailed));
    assert!(!response.headers.iter().any(|(n, v)| *n == "set-cookie" && v.contains("oidc_session=")));
}

#[test]
fn a_team_restriction_needs_that_team_in_that_organisation() {
    let mut g = gate(json!({"teams": ["flipt-io/maintainers"]}));
    let mut io = TestIo::new(1);
    let mut same_slug_elsewhere = member();
    same_slug_elsewhere.teams = vec![json!({"slug": "maintainers", "organization": {"login": "some-other-org"}})];
    let (d, _) = sign_in(&mut g, &mut io, &same_slug_elsewhere, token());
    let Decision::Respond { response, .. } = d else { panic!("{d:?}") };
    assert_eq!(response.status, 403);
    let (d, _) = sign_in(&mut g, &mut io, &member(), token());
    assert!(matches!(d, Decision::Respond { counter: Counter::LoginCompleted, .. }));
}

#[test]
fn organisations_beyond_the_first_page_are_read() {
    let mut g = gate(json!({"organizations": ["flipt-io"]}));
    let mut io = TestIo::new(1);
    let mut many = member();
    many.orgs = (0..150).map(|n| json!({"login": format!("org-{n}")})).collect();
    many.orgs.push(json!({"login": "flipt-io"}));
    let (d, paths) = sign_in(&mut g, &mut io, &many, token());
    assert!(paths.contains(&"github_api /user/orgs?per_page=100&page=2".to_string()));
    assert!(matches!(d, Decision::Respond { counter: Counter::LoginCompleted, .. }), "{d:?}");
}

#[test]
fn beyond_max_pages_of_organisations_the_login_fails_closed() {
    let mut g = gate(json!({"organizations": ["flipt-io"]}));
    let mut io = TestIo::new(1);
    let mut many = member();
    let max = crate::core::login::github::MAX_PAGES as usize;
    many.orgs = (0..max * 100).map(|n| json!({"login": format!("org-{n}")})).collect();
    many.orgs.push(json!({"login": "flipt-io"}));
    let (d, paths) = sign_in(&mut g, &mut io, &many, token());
    assert_eq!(paths.iter().filter(|p| p.contains("/user/orgs")).count(), max, "no page beyond MAX_PAGES");
    let Decision::Respond { response, .. } = d else { panic!("{d:?}") };
    assert_eq!(response.status, 403, "an organisation on an unread page does not count");
}

#[test]
fn without_a_verified_primary_email_there_is_no_email() {
    let mut g = gate(json!({"allow_all_users": true}));
    let mut io = TestIo::new(1);
    let mut api = member();
    api.emails = json!([{"email": "una@x.example", "primary": true, "verified": false},
                        {"email": "other@x.example", "primary": false, "verified": true}]);
    let (d, paths) = sign_in(&mut g, &mut io, &api, token());
    // Groups are read for the groups header even without a restriction.
    assert_eq!(paths.len(), 5);
    let headers = signed_in_headers(&mut g, &mut io, d);
    assert!(!headers.iter().any(|(h, _)| h == "x-email"), "{headers:?}");
}

#[test]
fn allowed_email_domains_apply_to_github_logins() {
    // A global requirement restricts who gets in: no organisation needed then.
    let cfg = github_config(json!({}), json!({"authorization": {"allowed_email_domains": ["example.com"]}}));
    let mut g = Gate::new(Rc::new(load(cfg.to_string().as_bytes(), &MapEnv::default()).unwrap()));
    let mut io = TestIo::new(1);
    let (d, _) = sign_in(&mut g, &mut io, &member(), token());
    let Decision::Respond { response, .. } = d else { panic!("{d:?}") };
    assert_eq!(response.status, 403);
}

#[test]
fn github_errors_in_a_200_and_api_failures_fail_the_login() {
    let mut g = gate(json!({"allow_all_users": true}));
    let mut io = TestIo::new(1);
    let (d, paths) =
        sign_in(&mut g, &mut io, &member(), json!({"error": "bad_verification_code", "error_description": "x"}));
    let Decision::Respond { response, counter, .. } = d else { panic!("{d:?}") };
    assert_eq!((response.status, counter, paths.len()), (502, Counter::LoginFailed, 1));
    assert!(response.body.contains("bad_verification_code"));
    let mut api = member();
    api.user = json!({"message": "Bad credentials"});
    let (d, _) = sign_in(&mut g, &mut io, &api, token());
    assert!(matches!(d, Decision::Respond { counter: Counter::LoginFailed, .. }), "{d:?}");
}

#[test]
fn bearer_jwts_never_match_github_and_the_config_refuses_what_github_lacks() {
    let mut g = gate(json!({"organizations": ["flipt-io"]}));
    assert!(g.providers[0].poll(NOW_MS, &g.config.clusters.clone()).is_none(), "nothing is discovered");
    let mut io = TestIo::new(1);
    // A JWT naming GitHub as its issuer is an unknown issuer: 401 at once, no wait.
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2dpdGh1Yi5jb20ifQ.c2ln";
    let mut h = page("/flags", None).with("authorization", &format!("Bearer {jwt}"));
    let d = io.run(|io| g.decide(&mut h, NOW_MS, true, io));
    assert!(matches!(d, Decision::Deny(Denial::InvalidToken(_))), "{d:?}");
    let refused = |extra: Value| {
        let cfg = github_config(json!({"organizations": ["flipt-io"]}), extra);
        match load(cfg.to_string().as_bytes(), &MapEnv::default()) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(|e| e.field.clone()).collect::<Vec<_>>(),
        }
    };
    assert_eq!(refused(json!({"issuer": "https://idp.example.com"})), ["github"]);
    assert_eq!(refused(json!({"bearer": {"audiences": ["api"]}})), ["bearer.audiences"]);
    assert_eq!(refused(json!({"forward_id_token": {"header": "x-id"}})), ["forward_id_token"]);
    assert_eq!(refused(json!({"github": {"organizations": ["o"], "teams": ["no-slash"]}})), ["github.teams[0]"]);
    assert_eq!(refused(json!({"github": {"organizations": ["o"], "api_url": "ftp://x"}})), ["github.api_url"]);
    assert_eq!(refused(json!({"session": null})), ["github"]);
    // Anyone with a GitHub account, only when asked for.
    assert_eq!(refused(json!({"github": {}})), ["github"]);
    assert_eq!(refused(json!({"github": {"allow_all_users": true}})), Vec::<String>::new());
    // An Enterprise web host with github.com's API would send its tokens there.
    assert_eq!(
        refused(json!({"github": {"organizations": ["o"], "web_url": "https://ghe.example.com"}})),
        ["github.api_url"]
    );
    // The groups may not overwrite the person's own claims (two users would merge).
    assert_eq!(refused(json!({"groups_header": {"header": "x-g", "claim": "sub"}})), ["groups_header.claim"]);
    assert_eq!(
        refused(json!({"bearer": {"issuers": [{"issuer": "https://github.com", "audiences": ["a"]}]}})),
        ["bearer.issuers"]
    );
    assert_eq!(refused(json!({"authorization": {"required_groups": {"any": ["Flipt-IO"]}}})), ["authorization"]);
    // GitHub states neither `acr` nor `auth_time`: a step-up could never be met, and each
    // try would send the browser round GitHub (which signs it in without asking) and back.
    let step_up = |rule: Value| json!({"authorization": {"rules": [rule]}});
    let rule = json!({"path": {"prefix": "/billing"}, "acr_values": ["mfa"]});
    assert_eq!(refused(step_up(rule)), ["authorization.rules[0].acr_values"]);
    let rule = json!({"path": {"prefix": "/billing"}, "max_age": "15m"});
    assert_eq!(refused(step_up(rule)), ["authorization.rules[0].max_age"]);
}
