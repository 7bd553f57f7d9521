//! Compiling `authorization`.

use serde_json::Value;

use std::time::Duration;

use super::step_up::plain_acr;
use super::{Access, AuthzConfig, ClaimRule, ClaimTest, GroupRule, Requirements, Rule, StepUp};

const MIN_MAX_AGE: Duration = Duration::from_secs(10);
use crate::core::config::errors::Errors;
use crate::core::config::raw::{RawAuthorization, RawClaimRule, RawRule};
use crate::core::web::PathRule;

pub fn compile(raw: Option<&RawAuthorization>, groups_claim: &str, errors: &mut Errors) -> AuthzConfig {
    let Some(raw) = raw else {
        return AuthzConfig { groups_claim: groups_claim.to_string(), ..AuthzConfig::default() };
    };
    let f = "authorization";
    for (n, d) in raw.allowed_email_domains.iter().enumerate() {
        if d.is_empty() || d.contains(['@', '/', ' ']) {
            errors.push(format!("{f}.allowed_email_domains[{n}]"), "must be a domain like example.com");
        }
    }
    let required_groups = raw.required_groups.as_ref().and_then(|g| match (&g.any, &g.all) {
        (Some(any), None) if !any.is_empty() => Some(GroupRule::Any(any.clone())),
        (None, Some(all)) if !all.is_empty() => Some(GroupRule::All(all.clone())),
        _ => {
            errors.push(
                format!("{f}.required_groups"),
                "give exactly one of \"any\" or \"all\", with at least one group",
            );
            None
        }
    });
    AuthzConfig {
        allowed_email_domains: raw.allowed_email_domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
        required_groups,
        claims: claim_rules(&format!("{f}.claims"), &raw.claims, errors),
        rules: raw.rules.iter().enumerate().map(|(n, r)| rule(&format!("{f}.rules[{n}]"), r, errors)).collect(),
        groups_claim: groups_claim.to_string(),
    }
}

fn rule(field: &str, raw: &RawRule, errors: &mut Errors) -> Rule {
    let path = PathRule::compile(&raw.path).unwrap_or_else(|e| {
        errors.push(format!("{field}.path"), e);
        PathRule::Exact(String::new())
    });
    let methods: Vec<String> = raw.methods.iter().flatten().map(|m| m.to_ascii_uppercase()).collect();
    if methods.iter().any(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase())) {
        errors.push(format!("{field}.methods"), "must be HTTP method names like \"POST\"");
    }
    let requirements = Requirements {
        groups_any: raw.groups_any.clone().unwrap_or_default(),
        groups_all: raw.groups_all.clone().unwrap_or_default(),
        scopes_any: raw.scopes_any.clone().unwrap_or_default(),
        claims: claim_rules(&format!("{field}.claims"), &raw.claims, errors),
        step_up: step_up(field, raw, errors),
    };
    let restricts = !requirements.groups_any.is_empty()
        || !requirements.groups_all.is_empty()
        || !requirements.scopes_any.is_empty()
        || !requirements.claims.is_empty()
        || requirements.step_up.is_some();
    let access = match raw.allow.as_deref() {
        None | Some("authenticated") => Access::Authenticated(requirements),
        Some("anyone") if !restricts => Access::Anyone,
        Some("anyone") => {
            errors.push(format!("{field}.allow"), "\"anyone\" cannot go with groups, scopes, claims or a step-up");
            Access::Anyone
        }
        Some(_) => {
            errors.push(format!("{field}.allow"), "must be \"anyone\" or \"authenticated\"");
            Access::Authenticated(requirements)
        }
    };
    Rule { path, methods, access }
}

/// `acr_values` (a non-empty list of plain values) and `max_age` (at least 10s, so that a
/// fresh sign-in always meets it).
fn step_up(field: &str, raw: &RawRule, errors: &mut Errors) -> Option<StepUp> {
    if raw.acr_values.is_none() && raw.max_age.is_none() {
        return None;
    }
    let acr_values = raw.acr_values.clone().unwrap_or_default();
    if raw.acr_values.is_some() && (acr_values.is_empty() || !acr_values.iter().all(|v| plain_acr(v))) {
        errors.push(
            format!("{field}.acr_values"),
            "must be a non-empty list of values without spaces, quotes, commas or backslashes",
        );
    }
    let max_age = raw.max_age.as_ref().map(|_| errors.duration(&format!("{field}.max_age"), &raw.max_age, MIN_MAX_AGE));
    if max_age.is_some_and(|m| m < MIN_MAX_AGE) {
        errors.push(format!("{field}.max_age"), "must be at least 10s");
    }
    Some(StepUp { acr_values, max_age: max_age.map(|m| m.as_secs()) })
}

fn claim_rules(field: &str, raw: &[RawClaimRule], errors: &mut Errors) -> Vec<ClaimRule> {
    let mut out = Vec::new();
    for (n, c) in raw.iter().enumerate() {
        let at = format!("{field}[{n}]");
        if c.claim.is_empty() {
            errors.push(format!("{at}.claim"), "must name a claim");
        }
        let test = match (&c.equals, &c.one_of, &c.matches) {
            (Some(v), None, None) if scalar(v) => ClaimTest::Equals(v.clone()),
            (None, Some(list), None) if !list.is_empty() && list.iter().all(scalar) => ClaimTest::OneOf(list.clone()),
            (None, None, Some(r)) => match regex_lite::Regex::new(r) {
                Ok(re) => ClaimTest::Matches(re),
                Err(e) => {
                    errors.push(
                        format!("{at}.matches"),
                        format!("invalid regex: {}", e.to_string().lines().next().unwrap_or("")),
                    );
                    continue;
                }
            },
            _ => {
                errors.push(
                    at,
                    "give exactly one of \"equals\", \"one_of\" (strings, numbers or booleans) or \"matches\"",
                );
                continue;
            }
        };
        out.push(ClaimRule { claim: c.claim.clone(), test });
    }
    out
}

fn scalar(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
}
