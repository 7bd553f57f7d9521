//! Deciding whether a verified caller may pass.

use serde_json::{Map, Value};

use super::{Access, AuthzConfig, ClaimRule, ClaimTest, GroupRule, Requirements, Rule};
use crate::core::identity::{email_verified, lookup, overage};

/// The outcome for a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny(Refusal),
}

/// Why a caller may not pass; `reason` is for the log (names the requirement, never a
/// token or a claim's value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Forbidden {
        reason: String,
    },
    /// A bearer token lacks every scope the rule accepts (RFC 6750 `insufficient_scope`).
    InsufficientScope {
        scopes: Vec<String>,
    },
}

impl AuthzConfig {
    /// The first rule for this path (and method). A path not in plain form matches no
    /// rule, and [`AuthzConfig::needs_plain_paths`] says whether that is a refusal.
    pub fn rule_for(&self, method: Option<&str>, path: &str) -> Option<&Rule> {
        if !crate::core::web::is_normalized(path) {
            return None;
        }
        self.rules.iter().find(|r| {
            r.path.matches_path(path)
                && (r.methods.is_empty() || method.is_some_and(|m| r.methods.iter().any(|x| x == m)))
        })
    }

    /// With rules, a path not in plain form (`//admin`, `/public/../admin`) is refused: no
    /// rule could be chosen for it safely (enable `normalize_path` and `merge_slashes`).
    pub fn needs_plain_paths(&self) -> bool {
        !self.rules.is_empty()
    }

    /// Whether a caller with these claims may pass `rule` (the global requirements always).
    pub fn check(&self, rule: Option<&Rule>, claims: &Map<String, Value>, bearer: bool) -> Verdict {
        if let Err(r) = self.admits(claims) {
            return Verdict::Deny(r);
        }
        match rule.map(|r| &r.access) {
            Some(Access::Authenticated(req)) => self.meets(req, claims, bearer),
            Some(Access::Anyone) | None => Verdict::Allow,
        }
    }

    /// The global requirements alone (a login checks them before any session is made).
    pub fn admits(&self, claims: &Map<String, Value>) -> Result<(), Refusal> {
        let forbidden = |reason: &str| Err(Refusal::Forbidden { reason: reason.to_string() });
        if !self.allowed_email_domains.is_empty() {
            let domain = claims.get("email").and_then(Value::as_str).and_then(|e| e.rsplit_once('@')).map(|(_, d)| d);
            let allowed = domain.is_some_and(|d| self.allowed_email_domains.iter().any(|a| a.eq_ignore_ascii_case(d)));
            if !allowed || !email_verified(claims) {
                return forbidden("the email is not verified or not in allowed_email_domains");
            }
        }
        let groups = groups(claims, &self.groups_claim);
        let overage = || overage::overage(claims, &self.groups_claim);
        match &self.required_groups {
            Some(GroupRule::Any(_) | GroupRule::All(_)) if overage() => return forbidden(overage::REASON),
            Some(GroupRule::Any(any)) if !any.iter().any(|g| groups.contains(&g.as_str())) => {
                return forbidden("in none of required_groups.any");
            }
            Some(GroupRule::All(all)) if !all.iter().all(|g| groups.contains(&g.as_str())) => {
                return forbidden("not in every group of required_groups.all");
            }
            _ => {}
        }
        if let Some(c) = self.claims.iter().find(|c| !holds(c, claims)) {
            return Err(Refusal::Forbidden {
                reason: format!("claim {:?} does not match authorization.claims", c.claim),
            });
        }
        Ok(())
    }

    fn meets(&self, req: &Requirements, claims: &Map<String, Value>, bearer: bool) -> Verdict {
        let groups = groups(claims, &self.groups_claim);
        let deny = |reason: &str| Verdict::Deny(Refusal::Forbidden { reason: reason.to_string() });
        let reads_groups = !req.groups_any.is_empty() || !req.groups_all.is_empty();
        if reads_groups && overage::overage(claims, &self.groups_claim) {
            return deny(overage::REASON);
        }
        if !req.groups_any.is_empty() && !req.groups_any.iter().any(|g| groups.contains(&g.as_str())) {
            return deny("in none of the rule's groups_any");
        }
        if !req.groups_all.iter().all(|g| groups.contains(&g.as_str())) {
            return deny("not in every group of the rule's groups_all");
        }
        if let Some(c) = req.claims.iter().find(|c| !holds(c, claims)) {
            return deny(&format!("claim {:?} does not match the rule", c.claim));
        }
        if bearer && !req.scopes_any.is_empty() {
            let scopes = scopes(claims);
            if !req.scopes_any.iter().any(|s| scopes.contains(&s.as_str())) {
                return Verdict::Deny(Refusal::InsufficientScope { scopes: req.scopes_any.clone() });
            }
        }
        Verdict::Allow
    }
}

/// The groups in `claim`: an array of strings, or one string.
fn groups<'a>(claims: &'a Map<String, Value>, claim: &str) -> Vec<&'a str> {
    match lookup(claims, claim) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    }
}

/// The scopes: `scope` (space-separated, RFC 8693/9068) or `scp` (an array, or a string).
fn scopes(claims: &Map<String, Value>) -> Vec<&str> {
    let mut out: Vec<&str> =
        claims.get("scope").and_then(Value::as_str).map(|s| s.split(' ').collect()).unwrap_or_default();
    match claims.get("scp") {
        Some(Value::Array(items)) => out.extend(items.iter().filter_map(Value::as_str)),
        Some(Value::String(s)) => out.extend(s.split(' ')),
        _ => {}
    }
    out
}

/// A claim rule holds for the claim's value, or for any element of an array claim.
fn holds(rule: &ClaimRule, claims: &Map<String, Value>) -> bool {
    let test = |v: &Value| match &rule.test {
        ClaimTest::Equals(want) => v == want,
        ClaimTest::OneOf(list) => list.contains(v),
        ClaimTest::Matches(re) => v.as_str().is_some_and(|s| re.is_match(s)),
    };
    match lookup(claims, &rule.claim) {
        Some(Value::Array(items)) => items.iter().any(test),
        Some(v) => test(v),
        None => false,
    }
}
