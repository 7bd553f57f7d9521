use serde_json::{json, Map, Value};

use super::*;
use crate::core::config::errors::Errors;

fn authz(raw: Value) -> AuthzConfig {
    let mut errors = Errors::default();
    let a = compile(Some(&serde_json::from_value(raw).unwrap()), "groups", &mut errors);
    errors.finish(a).unwrap()
}

fn claims(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn forbidden(v: &Verdict) -> bool {
    matches!(v, Verdict::Deny(Refusal::Forbidden { .. }))
}

#[test]
fn global_requirements_apply_to_every_caller() {
    let a = authz(json!({"allowed_email_domains": ["Example.com"], "required_groups": {"any": ["staff", "ops"]},
        "claims": [{"claim": "hd", "equals": "example.com"}]}));
    let good =
        claims(json!({"email": "a@example.COM", "email_verified": true, "groups": ["ops"], "hd": "example.com"}));
    assert_eq!(a.check(None, &good, false), Verdict::Allow);
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c.insert(k.into(), v);
        c
    };
    for bad in [
        with("email", json!("a@evil.example")),
        with("email", json!("a@example.com.evil.example")),
        with("email_verified", json!(false)),
        claims(json!({"email": "a@example.com", "groups": ["ops"], "hd": "example.com"})),
        with("groups", json!(["dev"])),
        with("groups", json!("staff,ops")),
        with("hd", json!("other.example")),
    ] {
        assert!(forbidden(&a.check(None, &bad, false)), "{bad:?}");
    }
    let all = authz(json!({"required_groups": {"all": ["a", "b"]}}));
    assert_eq!(all.check(None, &claims(json!({"groups": ["b", "a", "c"]})), false), Verdict::Allow);
    assert!(forbidden(&all.check(None, &claims(json!({"groups": ["a"]})), false)));
}

#[test]
fn the_first_matching_rule_decides_and_only_for_its_methods() {
    let a = authz(json!({"rules": [
        {"path": {"prefix": "/admin"}, "methods": ["post", "DELETE"], "groups_any": ["admins"]},
        {"path": {"prefix": "/api/"}, "scopes_any": ["api:write"]},
        {"path": {"prefix": "/public/"}, "allow": "anyone"},
        {"path": {"prefix": "/"}, "allow": "authenticated"},
    ]}));
    let dev = claims(json!({"groups": ["dev"], "scope": "api:read"}));
    let admin = claims(json!({"groups": ["admins", "dev"]}));
    let rule = |m: &str, p: &str| a.rule_for(Some(m), p);
    assert!(forbidden(&a.check(rule("POST", "/admin/users"), &dev, false)));
    assert_eq!(a.check(rule("POST", "/admin/users"), &admin, false), Verdict::Allow);
    assert_eq!(a.check(rule("GET", "/admin/users"), &dev, false), Verdict::Allow, "GET is not in the rule's methods");
    assert_eq!(
        a.check(rule("GET", "/api/orders"), &dev, true),
        Verdict::Deny(Refusal::InsufficientScope { scopes: vec!["api:write".into()] })
    );
    assert_eq!(a.check(rule("GET", "/api/orders"), &dev, false), Verdict::Allow, "sessions carry no scopes");
    let writer = claims(json!({"scp": ["api:write"]}));
    assert_eq!(a.check(rule("GET", "/api/orders"), &writer, true), Verdict::Allow);
    assert!(matches!(rule("GET", "/public/x").map(|r| &r.access), Some(Access::Anyone)));
    // Paths not in plain form match no rule (and the gate refuses them when rules exist).
    assert!(rule("GET", "/public/../admin").is_none());
    assert!(rule("POST", "//admin").is_none());
    assert!(a.needs_plain_paths());
}

#[test]
fn claim_rules_equal_one_of_or_match_and_read_nested_and_array_claims() {
    let a = authz(json!({"claims": [
        {"claim": "realm_access.roles", "one_of": ["editor", "viewer"]},
        {"claim": "tid", "matches": "^[0-9a-f-]{36}$"},
        {"claim": "https://example.com/tier", "equals": 3},
    ]}));
    let ok = claims(json!({"realm_access": {"roles": ["x", "viewer"]}, "tid": "9188040d-6c67-4c5b-b112-36a304b66dad",
        "https://example.com/tier": 3}));
    assert_eq!(a.check(None, &ok, false), Verdict::Allow);
    let mut bad = ok.clone();
    bad.insert("tid".into(), json!("evil"));
    assert!(forbidden(&a.check(None, &bad, false)));
}

#[test]
fn bad_rules_are_config_errors() {
    let errors = |raw: Value| {
        let mut e = Errors::default();
        compile(Some(&serde_json::from_value(raw).unwrap()), "groups", &mut e);
        e.finish(()).unwrap_err().iter().map(ToString::to_string).collect::<Vec<_>>()
    };
    assert_eq!(
        errors(json!({"rules": [{"path": {"prefix": "/p"}, "allow": "anyone", "groups_any": ["a"]}]})),
        vec!["authorization.rules[0].allow: \"anyone\" cannot go with groups, scopes, claims or a step-up"]
    );
    assert_eq!(
        errors(json!({"required_groups": {"any": ["a"], "all": ["b"]}})),
        vec!["authorization.required_groups: give exactly one of \"any\" or \"all\", with at least one group"]
    );
    assert_eq!(
        errors(json!({"claims": [{"claim": "hd", "equals": "a", "matches": "b"}]})),
        vec!["authorization.claims[0]: give exactly one of \"equals\", \"one_of\" (strings, numbers or booleans) or \"matches\""]
    );
    assert_eq!(errors(json!({"rules": [{"path": {"prefix": "/p"}, "allow": "everyone"}]})).len(), 1);
}
