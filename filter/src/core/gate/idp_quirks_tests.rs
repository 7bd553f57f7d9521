//! The bends of real IdPs, decided by the gate: Google's bare issuer (aliases), Entra ID's
//! tenant template and groups overage, Keycloak's `typ` and nested roles, Cognito's
//! audience-less access tokens and `token_use`, Auth0's namespaced claims, and Okta's
//! org-server tokens that only introspection can check.

use serde_json::{json, Value};
use std::rc::Rc;

use super::*;
use crate::core::identity::overage;
use crate::core::testing::keys::{jwks, rsa_a, rsa_b, sign};
use crate::core::testing::{config, discovery, feed, MapHeaders, TestIo, ISS, NOW_MS, NOW_S};
use crate::core::token::{Alg, JwtError};

const ENTRA: &str = "https://login.microsoftonline.com/organizations/v2.0";
const T1: &str = "11111111-1111-1111-1111-111111111111";
const T2: &str = "22222222-2222-2222-2222-222222222222";

fn gate_for(issuer: &str, discovery_issuer: &str, extra: Value) -> Gate {
    let mut cfg = json!({"issuer": issuer, "bearer": {"audiences": ["api"]},
        "identity_headers": {"x-user-id": "sub"}});
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    let mut g = Gate::new(Rc::new(config(cfg)));
    let clusters = g.config.clusters.clone();
    let doc = discovery(json!({"issuer": discovery_issuer,
        "introspection_endpoint": "https://idp.example.com/introspect"}));
    feed(&mut g.providers[0], &clusters, &doc, &jwks(&[(&rsa_a(), "k1")]), NOW_MS);
    g
}

fn gate(extra: Value) -> Gate {
    gate_for(ISS, ISS, extra)
}

fn token(claims: Value) -> String {
    let mut c = json!({"iss": ISS, "sub": "u1", "aud": "api", "exp": NOW_S + 300});
    for (k, v) in claims.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    sign(&rsa_a(), Alg::RS256, "k1", &c)
}

fn decide(g: &mut Gate, io: &mut TestIo, path: &str, t: &str) -> Decision {
    let mut h = MapHeaders::new(&[(":path", path), (":method", "GET"), ("authorization", &format!("Bearer {t}"))]);
    io.run(|io| g.decide(&mut h, NOW_MS, true, io))
}

fn headers(d: Decision) -> Vec<(String, String)> {
    match d {
        Decision::Allow { identity, .. } => identity.headers.clone(),
        other => panic!("not allowed: {other:?}"),
    }
}

fn refused(d: Decision) -> JwtError {
    match d {
        Decision::Deny(Denial::InvalidToken(e)) => e,
        other => panic!("not refused: {other:?}"),
    }
}

fn forbidden(d: &Decision) -> bool {
    matches!(d, Decision::Respond { counter: Counter::DeniedForbidden, .. })
}

#[test]
fn google_bare_issuer_passes_only_through_issuer_aliases() {
    let bare = token(json!({"iss": "idp.example.com"}));
    let mut io = TestIo::new(0);
    assert_eq!(refused(decide(&mut gate(json!({})), &mut io, "/", &bare)), JwtError::UnknownIssuer);
    let mut g = gate(json!({"issuer_aliases": ["idp.example.com"]}));
    assert_eq!(headers(decide(&mut g, &mut io, "/", &bare)), vec![("x-user-id".into(), "u1".into())]);
    assert!(matches!(decide(&mut g, &mut io, "/", &token(json!({}))), Decision::Allow { .. }), "the issuer itself");
}

#[test]
fn google_hd_is_read_by_claim_rules() {
    let mut g = gate(json!({"authorization": {"claims": [{"claim": "hd", "equals": "example.com"}]}}));
    let mut io = TestIo::new(0);
    assert!(matches!(decide(&mut g, &mut io, "/", &token(json!({"hd": "example.com"}))), Decision::Allow { .. }));
    assert!(forbidden(&decide(&mut g, &mut io, "/", &token(json!({"hd": "gmail.example"})))));
    assert!(forbidden(&decide(&mut g, &mut io, "/", &token(json!({"sub": "u2"})))), "a consumer account has no hd");
}

fn entra_token(tid: &str, iss_tid: &str) -> String {
    token(json!({"iss": format!("https://login.microsoftonline.com/{iss_tid}/v2.0"), "tid": tid}))
}

#[test]
fn entra_multi_tenant_tokens_pass_for_listed_tenants_only() {
    let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
    let mut g = gate_for(ENTRA, template, json!({"tenants": [T1]}));
    assert!(g.providers[0].keys.is_some(), "the discovery document names the template");
    let mut io = TestIo::new(0);
    assert_eq!(headers(decide(&mut g, &mut io, "/", &entra_token(T1, T1))), vec![("x-user-id".into(), "u1".into())]);
    assert_eq!(refused(decide(&mut g, &mut io, "/", &entra_token(T2, T2))), JwtError::UnknownIssuer);
    assert_eq!(refused(decide(&mut g, &mut io, "/", &entra_token(T2, T1))), JwtError::UnknownIssuer, "its own tid");
    let plain = token(json!({"iss": ENTRA}));
    assert_eq!(refused(decide(&mut g, &mut io, "/", &plain)), JwtError::UnknownIssuer);
    let mut none = gate_for(ENTRA, template, json!({}));
    assert_eq!(refused(decide(&mut none, &mut io, "/", &entra_token(T1, T1))), JwtError::UnknownIssuer);
    // The template is accepted for a multi-tenant issuer only.
    let single = format!("https://login.microsoftonline.com/{T1}/v2.0");
    let mut g = Gate::new(Rc::new(config(json!({"issuer": single}))));
    let clusters = g.config.clusters.clone();
    let p = &mut g.providers[0];
    let (kind, _) = p.poll(NOW_MS, &clusters).unwrap();
    let doc = discovery(json!({"issuer": template}));
    let update = p.on_response(kind, Some(200), doc.as_bytes(), NOW_MS, crate::core::testing::REFRESH);
    assert!(matches!(update.error, Some(crate::core::idp::provider::FetchError::IssuerMismatch(_))), "{update:?}");
}

#[test]
fn entra_v1_tokens_pass_through_a_templated_alias() {
    let alias = "https://sts.windows.net/{tenantid}/";
    let mut g = gate_for(
        ENTRA,
        "https://login.microsoftonline.com/{tenantid}/v2.0",
        json!({"tenants": [T1], "issuer_aliases": [alias]}),
    );
    let mut io = TestIo::new(0);
    let v1 = |tid: &str| token(json!({"iss": format!("https://sts.windows.net/{tid}/"), "tid": tid}));
    assert!(matches!(decide(&mut g, &mut io, "/", &v1(T1)), Decision::Allow { .. }));
    assert_eq!(refused(decide(&mut g, &mut io, "/", &v1(T2))), JwtError::UnknownIssuer);
}

#[test]
fn entra_groups_overage_is_never_read_as_no_groups() {
    let mut g = gate(json!({"groups_header": {"header": "x-groups"},
        "authorization": {"rules": [{"path": {"prefix": "/admin"}, "groups_any": ["admins"]}]}}));
    let mut io = TestIo::new(0);
    let over = token(json!({"_claim_names": {"groups": "src1"},
        "_claim_sources": {"src1": {"endpoint": "https://graph.windows.net/t/users/u/getMemberObjects"}}}));
    let d = decide(&mut g, &mut io, "/admin", &over);
    assert!(forbidden(&d), "{d:?}");
    assert_eq!(io.logs.last().map(String::as_str), Some(format!("denied: {}", overage::REASON).as_str()));
    assert_eq!(
        headers(decide(&mut g, &mut io, "/", &over)),
        vec![("x-user-id".into(), "u1".into())],
        "no groups header"
    );
    let none = token(json!({"sub": "u2"}));
    assert!(forbidden(&decide(&mut g, &mut io, "/admin", &none)));
    assert_eq!(io.logs.last().map(String::as_str), Some("denied: in none of the rule's groups_any"));
    let admin = token(json!({"sub": "u3", "groups": ["admins"]}));
    assert!(matches!(decide(&mut g, &mut io, "/admin", &admin), Decision::Allow { .. }));
}

#[test]
fn keycloak_typ_refuses_id_and_refresh_tokens_and_nested_roles_feed_rules_and_header() {
    let mut g = gate(json!({"groups_claim": "realm_access.roles", "groups_header": {"header": "x-groups"},
        "authorization": {"rules": [{"path": {"prefix": "/admin"}, "groups_any": ["admin"]}]}}));
    let mut io = TestIo::new(0);
    let roles = json!({"realm_access": {"roles": ["admin", "user"]}});
    let kc = |typ: &str| token(json!({"typ": typ, "realm_access": {"roles": ["admin", "user"]}}));
    let h = headers(decide(&mut g, &mut io, "/admin", &kc("Bearer")));
    assert!(h.contains(&("x-groups".into(), "admin,user".into())), "{h:?}");
    assert_eq!(refused(decide(&mut g, &mut io, "/", &kc("ID"))), JwtError::IdTokenAsBearer);
    assert_eq!(refused(decide(&mut g, &mut io, "/", &kc("Refresh"))), JwtError::NotAccessToken);
    let account = token(json!({"typ": "Bearer", "aud": "account", "realm_access": roles["realm_access"]}));
    assert_eq!(refused(decide(&mut g, &mut io, "/", &account)), JwtError::WrongAudience);
    let user = token(json!({"typ": "Bearer", "sub": "u9", "realm_access": {"roles": ["user"]}}));
    assert!(forbidden(&decide(&mut g, &mut io, "/admin", &user)));
}

#[test]
fn cognito_access_tokens_without_aud_pass_for_listed_clients_and_id_tokens_never() {
    let mut g = gate(json!({"bearer": {"client_ids": ["app-client"]}, "groups_claim": "cognito:groups",
        "groups_header": {"header": "x-groups"}}));
    let mut io = TestIo::new(0);
    let cognito = |extra: Value| {
        let mut c = json!({"aud": null, "client_id": "app-client", "token_use": "access", "cognito:groups": ["ops"]});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        token(c)
    };
    let h = headers(decide(&mut g, &mut io, "/", &cognito(json!({}))));
    assert!(h.contains(&("x-groups".into(), "ops".into())), "{h:?}");
    assert_eq!(refused(decide(&mut g, &mut io, "/", &cognito(json!({"client_id": "other"})))), JwtError::WrongAudience);
    assert_eq!(refused(decide(&mut g, &mut io, "/", &cognito(json!({"token_use": "id"})))), JwtError::IdTokenAsBearer);
    assert_eq!(refused(decide(&mut g, &mut io, "/", &cognito(json!({"exp": NOW_S - 3600})))), JwtError::Expired);
    let id = token(json!({"aud": "app-client", "token_use": "id"}));
    assert_eq!(refused(decide(&mut g, &mut io, "/", &id)), JwtError::IdTokenAsBearer);
    let mut unlisted = gate(json!({}));
    assert_eq!(refused(decide(&mut unlisted, &mut io, "/", &cognito(json!({})))), JwtError::WrongAudience);
    // Client ids are the login issuer's: another issuer's audience-less token is refused.
    let mut two = gate(json!({"bearer": {"client_ids": ["app-client"],
        "issuers": [{"issuer": "https://other.example", "audiences": ["api"]}]}}));
    let clusters = two.config.clusters.clone();
    let doc = discovery(json!({"issuer": "https://other.example"}));
    feed(&mut two.providers[1], &clusters, &doc, &jwks(&[(&rsa_a(), "k1")]), NOW_MS);
    let other =
        token(json!({"iss": "https://other.example", "aud": null, "client_id": "app-client", "token_use": "access"}));
    assert_eq!(refused(decide(&mut two, &mut io, "/", &other)), JwtError::WrongAudience);
    assert!(matches!(decide(&mut two, &mut io, "/", &cognito(json!({}))), Decision::Allow { .. }));
}

#[test]
fn auth0_namespaced_claims_are_one_name_for_rules_and_header() {
    let ns = "https://example.com/roles";
    let mut g = gate(json!({"groups_claim": ns, "groups_header": {"header": "x-groups"},
        "bearer": {"audiences": ["https://api.example.com"]},
        "authorization": {"rules": [{"path": {"prefix": "/admin"}, "groups_any": ["admin"]}]}}));
    let mut io = TestIo::new(0);
    let aud = json!(["https://api.example.com", "https://tenant.auth0.com/userinfo"]);
    let t = token(json!({"aud": aud, ns: ["admin"]}));
    let h = headers(decide(&mut g, &mut io, "/admin", &t));
    assert!(h.contains(&("x-groups".into(), "admin".into())), "{h:?}");
    // Never read as a path: `https://example` holding {"com/roles": …} is not the claim.
    let nested = token(json!({"aud": aud, "sub": "u2", "https://example": {"com/roles": ["admin"]}}));
    assert!(forbidden(&decide(&mut g, &mut io, "/admin", &nested)));
}

#[test]
fn okta_org_server_jwts_the_keys_cannot_check_go_to_introspection() {
    let org = sign(&rsa_b(), Alg::RS256, "org-key", &json!({"iss": ISS, "sub": "u1", "aud": ISS, "exp": NOW_S + 300}));
    let mut io = TestIo::new(0);
    let mut with = gate(json!({"bearer": {"audiences": ["api"], "introspection": {}}}));
    let mut h = MapHeaders::new(&[(":path", "/"), (":method", "GET"), ("authorization", &format!("Bearer {org}"))]);
    let d = io.run(|io| with.decide(&mut h.clone(), NOW_MS, false, io));
    let Decision::Call { callout, .. } = d else { panic!("no introspection: {d:?}") };
    assert_eq!(callout.target.path, "/introspect");
    let mut without = gate(json!({}));
    let d = io.run(|io| without.decide(&mut h, NOW_MS, false, io));
    assert_eq!(refused(d), JwtError::UnknownKey);
    // A token of another issuer is never introspected at the login issuer.
    let other =
        sign(&rsa_b(), Alg::RS256, "x", &json!({"iss": "https://other.example", "aud": "api", "exp": NOW_S + 9}));
    let mut h = MapHeaders::new(&[(":path", "/"), ("authorization", &format!("Bearer {other}"))]);
    assert_eq!(refused(io.run(|io| with.decide(&mut h, NOW_MS, false, io))), JwtError::UnknownIssuer);
}
