//! The keys of the later features, each refused with its field: IdP interop (issuer
//! aliases, tenants, groups_claim, logout_url, authorization_params, graph_url, the IdP
//! pages' configs), step-up and back-channel logout, private_key_jwt.

use super::tests::{env, errors_of, with};
use super::*;
use crate::core::testing::MapEnv;
use serde_json::{json, Value};

#[test]
fn idp_interop_keys_are_checked_with_their_field() {
    let key = crate::core::testing::session_key(5);
    let login = |extra: Value| {
        let mut v = with(json!({"client_secret": "s", "session": {"keys": [key.clone()]}}));
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        errors_of(v)
    };
    assert_eq!(
        errors_of(with(json!({"tenants": ["t1"]}))),
        vec!["tenants: applies to a multi-tenant issuer (…/organizations/v2.0, …/common/v2.0) or an issuer_aliases entry with {tenantid}"]
    );
    assert!(errors_of(with(json!({"issuer": "https://login.microsoftonline.com/common/v2.0", "tenants": ["t1"]})))
        .is_empty());
    assert!(errors_of(with(json!({"issuer_aliases": ["https://sts.windows.net/{tenantid}/"], "tenants": ["t1"]})))
        .is_empty());
    assert_eq!(
        errors_of(with(
            json!({"issuer": "https://login.microsoftonline.com/common/v2.0", "tenants": ["a/b", "a".repeat(65)]})
        )),
        vec![
            "tenants[0]: must be a tenant id (1 to 64 letters, digits, '-', '.', '_')",
            "tenants[1]: must be a tenant id (1 to 64 letters, digits, '-', '.', '_')"
        ]
    );
    assert_eq!(
        errors_of(with(json!({"issuer_aliases": ["", "x{tenantid}{tenantid}"]}))),
        vec![
            "issuer_aliases[0]: must be another printable issuer value, with {tenantid} at most once",
            "issuer_aliases[1]: must be another printable issuer value, with {tenantid} at most once"
        ]
    );
    assert_eq!(
        errors_of(with(json!({"groups_claim": "roles", "groups_header": {"header": "x-groups", "claim": "groups"}}))),
        vec!["groups_header.claim: differs from groups_claim: the groups come from one claim, for the rules and the header (set groups_claim only)"]
    );
    assert!(errors_of(with(
        json!({"groups_claim": "roles", "groups_header": {"header": "x-groups", "claim": "roles"}})
    ))
    .is_empty());
    assert_eq!(errors_of(with(json!({"groups_claim": ""}))), vec!["groups_claim: must name a claim"]);
    assert_eq!(
        errors_of(with(json!({"logout_url": "https://x/logout"}))),
        vec!["logout_url: needs \"session\" (browser login is on only with session keys)"]
    );
    assert_eq!(
        login(json!({"logout_url": "/v2/logout?returnTo={post_logout_redirect}"})),
        vec!["logout_url: must be an absolute http(s) URL; placeholders: {client_id}, {post_logout_redirect}"]
    );
    assert_eq!(
        login(json!({"logout_url": "https://x/logout?u={return_to}"})),
        vec!["logout_url: must be an absolute http(s) URL; placeholders: {client_id}, {post_logout_redirect}"]
    );
    assert_eq!(
        login(json!({"authorization_params": {"state": "x", "audience": "", "a b": "c", "prompt": "login"}})),
        vec![
            "authorization_params.a b: is not a parameter name (letters, digits, '-', '_', '.')",
            "authorization_params.audience: must be a non-empty value without control characters",
            "authorization_params.state: is set by the filter itself or changes its request (scopes go in \"scopes\")"
        ]
    );
    assert_eq!(
        login(json!({"graph_url": "https://graph.microsoft.com/v1.0"})),
        vec!["graph_url: must be an absolute http(s) URL without a path, like https://graph.microsoft.com"]
    );
    let c = load(
        with(json!({"client_secret": "s", "session": {"keys": [key.clone()]}, "graph_url": "https://graph.microsoft.com/"}))
            .to_string()
            .as_bytes(),
        &env(),
    )
    .unwrap();
    assert_eq!(c.login.unwrap().graph.unwrap().as_string(), "https://graph.microsoft.com/v1.0/me/getMemberObjects");
}

#[test]
fn one_groups_claim_feeds_the_rules_and_the_header() {
    let c = load(
        with(json!({"groups_claim": "realm_access.roles", "groups_header": {"header": "x-groups"},
            "authorization": {"required_groups": {"any": ["a"]}}}))
        .to_string()
        .as_bytes(),
        &env(),
    )
    .unwrap();
    assert_eq!(c.authz.groups_claim, "realm_access.roles");
    assert_eq!(c.identity.groups_header.unwrap().claim, "realm_access.roles");
    assert!(
        c.identity.kept.contains(&"realm_access".to_string()) && c.identity.kept.contains(&"_claim_names".to_string())
    );
    // A namespaced name is kept whole, never by a first "part" that no claim has.
    let c = load(
        with(json!({"groups_claim": "https://example.com/roles", "groups_header": {"header": "x-groups"}}))
            .to_string()
            .as_bytes(),
        &env(),
    )
    .unwrap();
    assert!(c.identity.kept.contains(&"https://example.com/roles".to_string()));
    assert!(!c.identity.kept.iter().any(|k| k == "https://example"), "{:?}", c.identity.kept);
    // The older spelling alone still works.
    let c =
        load(with(json!({"groups_header": {"header": "x-groups", "claim": "roles"}})).to_string().as_bytes(), &env())
            .unwrap();
    assert_eq!((c.authz.groups_claim.as_str(), c.identity.groups_header.unwrap().claim.as_str()), ("roles", "roles"));
}

/// The `json` blocks of a Markdown page.
fn json_blocks(page: &str) -> Vec<String> {
    page.split("```json\n").skip(1).filter_map(|rest| rest.split("\n```").next()).map(str::to_string).collect()
}

#[test]
fn every_idp_page_config_loads() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../envoy/idps");
    let env = MapEnv::with(&[
        ("OIDC_CLIENT_SECRET", "validate-only"),
        ("SESSION_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
    ]);
    for name in ["google", "entra", "okta", "auth0", "keycloak", "cognito", "dex", "gitlab"] {
        let page = std::fs::read_to_string(dir.join(format!("{name}.md"))).unwrap();
        let blocks = json_blocks(&page);
        assert!(!blocks.is_empty(), "{name}.md has no json config");
        for block in blocks {
            if let Err(errors) = load(block.as_bytes(), &env) {
                let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
                panic!("{name}.md: {errors:?}");
            }
        }
    }
}

#[test]
fn step_up_and_back_channel_logout_keys_are_checked() {
    let key = crate::core::testing::session_key(1);
    let login = |extra: Value| {
        let mut o = json!({"client_secret": "s", "session": {"keys": [key.clone()]}});
        for (k, v) in extra.as_object().unwrap() {
            o[k] = v.clone();
        }
        with(o)
    };
    let rule = |r: Value| login(json!({"authorization": {"rules": [r]}}));
    let f = "authorization.rules[0]";
    let acr =
        format!("{f}.acr_values: must be a non-empty list of values without spaces, quotes, commas or backslashes");
    assert_eq!(errors_of(rule(json!({"path": {"prefix": "/b"}, "acr_values": []}))), vec![acr.clone()]);
    assert_eq!(errors_of(rule(json!({"path": {"prefix": "/b"}, "acr_values": ["a b"]}))), vec![acr]);
    assert_eq!(
        errors_of(rule(json!({"path": {"prefix": "/b"}, "max_age": "5s"}))),
        vec![format!("{f}.max_age: must be at least 10s")]
    );
    assert!(
        errors_of(rule(json!({"path": {"prefix": "/b"}, "max_age": "soon"})))[0].starts_with(&format!("{f}.max_age: "))
    );
    assert_eq!(
        errors_of(rule(json!({"path": {"prefix": "/b"}, "allow": "anyone", "max_age": "1m"}))),
        vec![format!("{f}.allow: \"anyone\" cannot go with groups, scopes, claims or a step-up")]
    );
    let c = load(
        rule(json!({"path": {"prefix": "/b"}, "acr_values": ["mfa"], "max_age": "15m"})).to_string().as_bytes(),
        &env(),
    )
    .unwrap();
    let step = c.authz.rules[0].step_up().unwrap();
    assert_eq!((step.acr_values.clone(), step.max_age), (vec!["mfa".to_string()], Some(900)));
    assert!(c.identity.kept.contains(&"acr".to_string()) && c.identity.kept.contains(&"auth_time".to_string()));

    let bc = |path: &str| login(json!({"backchannel_logout_path": path}));
    assert_eq!(
        errors_of(bc("/oauth2/callback")),
        vec!["backchannel_logout_path: must differ from callback_path and logout_path"]
    );
    assert_eq!(
        errors_of(bc("oauth2/bc")),
        vec!["backchannel_logout_path: must be a plain absolute path like \"/oauth2/backchannel-logout\""]
    );
    assert_eq!(
        errors_of(with(json!({"backchannel_logout_path": "/bc"}))),
        vec!["backchannel_logout_path: needs \"session\" (browser login is on only with session keys)"]
    );
    let c = load(bc("/oauth2/backchannel-logout").to_string().as_bytes(), &env()).unwrap();
    assert_eq!(c.login.unwrap().backchannel.unwrap().path, "/oauth2/backchannel-logout");
}

#[test]
fn private_key_jwt_needs_a_client_key_and_refuses_a_secret() {
    let key = include_str!("../../../testdata/ec-p256.pem");
    let login = json!({"keys": [crate::core::testing::session_key(1)]});
    let ok = with(json!({"client_auth": "private_key_jwt", "client_key": key, "session": login}));
    let c = load(ok.to_string().as_bytes(), &env()).unwrap();
    assert_eq!(c.client.auth, crate::core::idp::ClientAuth::PrivateKeyJwt);
    assert!(c.client.secret.is_none() && c.client.key.is_some());
    let cases = [
        (json!({"client_auth": "private_key_jwt", "session": login}),
            "client_key: required with client_auth \"private_key_jwt\": an RSA or P-256 private key (PEM or JWK)"),
        (json!({"client_auth": "private_key_jwt", "client_key": key, "client_secret": "s", "session": login}),
            "client_secret: must not be set with client_auth \"private_key_jwt\" (the client authenticates with client_key)"),
        (json!({"client_key": key, "client_secret": "s", "session": login}),
            "client_key: needs client_auth \"private_key_jwt\""),
        (json!({"client_auth": "private_key_jwt", "client_key": "hunter2", "session": login}),
            "client_key: is not a private key (a PEM block or a JWK)"),
        (json!({"client_auth": "private_key_jwt", "client_key": {"env": "NOPE"}, "session": login}),
            "client_key.env: names an environment variable that is not set in the VM"),
        (json!({"client_auth": "private_key_jwt", "client_key": key, "issuer": null, "bearer": {},
            "github": {"allow_all_users": true}, "session": login}), "client_auth: GitHub takes client_secret_post only"),
    ];
    for (cfg, want) in cases {
        let errors = errors_of(with(cfg.clone()));
        assert!(errors.iter().any(|e| e == want), "{cfg}: {errors:?}");
        assert!(!errors.iter().any(|e| e.contains("hunter2") || e.contains("BEGIN")), "{errors:?}");
    }
}

#[test]
fn authorization_params_cannot_override_what_the_filter_sends() {
    // Parameter names compared in any case (servers that read the query case-insensitively
    // would see a second redirect_uri), a request object (`request`, `request_uri`: its
    // values supersede the query's, OpenID Connect Core 6.1, RFC 9101 5), `response_mode`
    // (where the code goes), and client credentials (every browser would see them).
    let key = crate::core::testing::session_key(5);
    for name in [
        "Redirect_URI",
        "STATE",
        "Nonce",
        "request",
        "request_uri",
        "response_mode",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
    ] {
        let cfg = with(json!({"client_secret": "s", "session": {"keys": [key.clone()]},
            "authorization_params": {name: "x"}}));
        assert_eq!(
            errors_of(cfg),
            vec![format!("authorization_params.{name}: is set by the filter itself or changes its request (scopes go in \"scopes\")")],
            "{name}"
        );
    }
}
