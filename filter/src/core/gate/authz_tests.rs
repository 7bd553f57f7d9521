//! Who may pass, as the gate decides it for every credential kind, and the identity
//! shaped for Kubeflow.

use serde_json::{json, Value};
use std::rc::Rc;

use super::*;
use crate::core::session;
use crate::core::testing::keys::{jwks, rsa_a, sign};
use crate::core::testing::{
    cookie_header, discovery, feed, login_config, session as alice, session_key, FixedRng, MapHeaders, TestIo, ISS,
    NOW_MS, NOW_S,
};
use crate::core::token::Alg;

fn gate() -> Gate {
    let cfg = login_config(json!({
        "session": {"keys": [session_key(3)]},
        "bearer": {"audiences": ["api"]},
        "identity_headers": {"x-user-email": "email"},
        "authorization": {
            "allowed_email_domains": ["example.com"],
            "rules": [
                {"path": {"prefix": "/admin"}, "methods": ["POST", "DELETE"], "groups_any": ["admins"]},
                {"path": {"prefix": "/api/"}, "scopes_any": ["api:write"]},
                {"path": {"prefix": "/public/"}, "allow": "anyone"}
            ]},
        "user_id": {"header": "kubeflow-userid", "claim": "email", "prefix": "accounts:",
            "transformers": [{"matches": "^(.*)@example\\.com$", "replace": "$1"}]},
        "groups_header": {"header": "kubeflow-groups", "claim": "groups", "separator": ","},
    }));
    let mut g = Gate::new(Rc::new(cfg));
    let clusters = g.config.clusters.clone();
    feed(&mut g.providers[0], &clusters, &discovery(json!({})), &jwks(&[(&rsa_a(), "k1")]), NOW_MS);
    g
}

fn session_cookie(g: &Gate, claims: Value) -> String {
    let config = &g.config.login.as_ref().unwrap().session;
    cookie_header(&session::write(config, &alice(NOW_S, claims), &[], &mut FixedRng(2)).unwrap())
}

fn token(claims: Value) -> String {
    let mut c = json!({"iss": ISS, "sub": "svc", "aud": "api", "exp": NOW_S + 300});
    for (k, v) in claims.as_object().unwrap() {
        c[k] = v.clone();
    }
    sign(&rsa_a(), Alg::RS256, "k1", &c)
}

fn decide(g: &mut Gate, h: &MapHeaders) -> Decision {
    TestIo::new(0).run(|io| g.decide(&mut h.clone(), NOW_MS, true, io))
}

fn req(method: &str, path: &str) -> MapHeaders {
    MapHeaders::new(&[(":path", path), (":method", method), (":authority", "app.example.com")])
}

fn status(d: &Decision) -> (u32, Option<Counter>) {
    match d {
        Decision::Respond { response, counter, .. } => (response.status, Some(*counter)),
        Decision::Allow { counter, .. } => (200, Some(*counter)),
        Decision::Deny(d) => (d.response("r", None).status, Some(d.counter())),
        _ => (0, None),
    }
}

const DEV: fn() -> Value = || json!({"email": "dev@example.com", "email_verified": true, "groups": ["dev"]});
const ADMIN: fn() -> Value = || json!({"email": "root@example.com", "email_verified": true, "groups": ["admins"]});

#[test]
fn a_non_admin_gets_403_in_the_shape_its_client_reads_and_an_admin_gets_through() {
    let mut g = gate();
    let dev = session_cookie(&g, DEV());
    let page =
        req("POST", "/admin/users").with("cookie", &dev).with("accept", "text/html").with("sec-fetch-mode", "navigate");
    let d = decide(&mut g, &page);
    let Decision::Respond { response, counter, .. } = &d else { panic!("{d:?}") };
    assert_eq!((response.status, *counter), (403, Counter::DeniedForbidden));
    assert!(response.body.contains("dev@example.com") && response.body.contains("action=\"/oauth2/logout\""));
    let xhr = req("POST", "/admin/users").with("cookie", &dev).with("sec-fetch-mode", "cors");
    let d = decide(&mut g, &xhr);
    let Decision::Respond { response, .. } = &d else { panic!("{d:?}") };
    assert_eq!((response.status, response.header("content-type")), (403, Some("application/json")));
    let admin = session_cookie(&g, ADMIN());
    assert_eq!(
        status(&decide(&mut g, &req("POST", "/admin/users").with("cookie", &admin))),
        (200, Some(Counter::AllowedSession))
    );
    // GET is not in the rule's methods: any signed-in person of the domain passes.
    assert_eq!(status(&decide(&mut g, &req("GET", "/admin/users").with("cookie", &dev))).0, 200);
}

#[test]
fn a_bearer_token_without_the_scope_gets_insufficient_scope_and_a_grpc_call_a_403() {
    let mut g = gate();
    let reader = token(json!({"email": "svc@example.com", "email_verified": true, "scope": "api:read"}));
    let d = decide(&mut g, &req("GET", "/api/orders").with("authorization", &format!("Bearer {reader}")));
    let Decision::Respond { response, counter, .. } = &d else { panic!("{d:?}") };
    assert_eq!((response.status, *counter), (403, Counter::DeniedInsufficientScope));
    let challenge = response.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"api:write\""),
        "{challenge}"
    );
    let writer = token(json!({"email": "svc@example.com", "email_verified": true, "scope": "api:read api:write"}));
    assert_eq!(
        status(&decide(&mut g, &req("GET", "/api/orders").with("authorization", &format!("Bearer {writer}")))).0,
        200
    );
    // A token from outside the allowed domains: 403 for a gRPC call (grpc-status 7 from Envoy).
    let outsider = token(json!({"email": "x@evil.example", "email_verified": true, "scope": "api:write"}));
    let grpc = req("POST", "/pkg.Svc/Call")
        .with("content-type", "application/grpc")
        .with("authorization", &format!("Bearer {outsider}"));
    assert_eq!(status(&decide(&mut g, &grpc)), (403, Some(Counter::DeniedForbidden)));
}

#[test]
fn an_anyone_path_serves_anonymous_requests_and_sets_identity_for_a_credential() {
    let mut g = gate();
    let d = decide(&mut g, &req("GET", "/public/docs"));
    let Decision::Allow { identity, counter, .. } = &d else { panic!("{d:?}") };
    assert_eq!((*counter, identity.headers.len()), (Counter::AllowedPublic, 0));
    let dev = session_cookie(&g, DEV());
    let d = decide(&mut g, &req("GET", "/public/docs").with("cookie", &dev));
    let Decision::Allow { identity, counter, .. } = &d else { panic!("{d:?}") };
    assert_eq!(*counter, Counter::AllowedSession);
    assert!(identity.headers.contains(&("x-user-email".to_string(), "dev@example.com".to_string())));
    // A bad token or an outsider on a public path: served, anonymously.
    let d = decide(&mut g, &req("GET", "/public/docs").with("authorization", "Bearer a.b.c"));
    assert_eq!(status(&d), (200, Some(Counter::AllowedPublic)));
    let outsider = session_cookie(&g, json!({"email": "x@evil.example", "email_verified": true}));
    let d = decide(&mut g, &req("GET", "/public/docs").with("cookie", &outsider));
    let Decision::Allow { identity, counter, .. } = &d else { panic!("{d:?}") };
    assert_eq!((*counter, identity.headers.len()), (Counter::AllowedPublic, 0));
}

#[test]
fn kubeflow_gets_its_user_and_groups_headers_which_clients_cannot_spoof() {
    let mut g = gate();
    let dev = session_cookie(&g, json!({"email": "dev@example.com", "email_verified": true, "groups": ["dev", "ml"]}));
    let d = decide(&mut g, &req("GET", "/notebooks").with("cookie", &dev));
    let Decision::Allow { identity, .. } = &d else { panic!("{d:?}") };
    assert!(identity.headers.contains(&("kubeflow-userid".to_string(), "accounts:dev".to_string())));
    assert!(identity.headers.contains(&("kubeflow-groups".to_string(), "dev,ml".to_string())));
    for h in ["kubeflow-userid", "kubeflow-groups", "x-user-email"] {
        assert!(g.config.identity.all_headers.contains(&h.to_string()), "{h} is removed from every request");
    }
}

#[test]
fn with_rules_a_path_not_in_plain_form_is_refused() {
    let mut g = gate();
    let admin = session_cookie(&g, ADMIN());
    for path in ["/public/../admin", "//admin", "/public/%2e%2e/admin", "/admin;x=1"] {
        assert_eq!(
            status(&decide(&mut g, &req("POST", path).with("cookie", &admin))),
            (400, Some(Counter::DeniedBadRequest)),
            "{path}"
        );
    }
}
