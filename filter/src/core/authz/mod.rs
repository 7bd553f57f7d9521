//! Who may pass: global requirements (allowed email domains, required groups, claim
//! matches) for every credential kind, and per-path rules, first match wins. A rule may
//! open a path to anyone, or require groups, scopes (bearer credentials), claims, for
//! some methods.

mod compile;
mod evaluate;
pub mod step_up;

use serde_json::Value;

use crate::core::web::PathRule;

pub use compile::compile;
pub use evaluate::{Refusal, Verdict};
pub use step_up::StepUp;

#[derive(Debug, Default)]
pub struct AuthzConfig {
    /// Lower-case domains; the email must be verified.
    pub allowed_email_domains: Vec<String>,
    pub required_groups: Option<GroupRule>,
    pub claims: Vec<ClaimRule>,
    pub rules: Vec<Rule>,
    /// The claim holding the groups (a dotted name reads nested claims).
    pub groups_claim: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRule {
    Any(Vec<String>),
    All(Vec<String>),
}

#[derive(Debug)]
pub struct ClaimRule {
    pub claim: String,
    pub test: ClaimTest,
}

#[derive(Debug)]
pub enum ClaimTest {
    Equals(Value),
    OneOf(Vec<Value>),
    Matches(regex_lite::Regex),
}

#[derive(Debug)]
pub struct Rule {
    pub path: PathRule,
    /// Upper-case methods; empty: every method.
    pub methods: Vec<String>,
    pub access: Access,
}

impl Rule {
    /// The rule's step-up requirement, if it has one.
    pub fn step_up(&self) -> Option<&StepUp> {
        match &self.access {
            Access::Authenticated(req) => req.step_up.as_ref(),
            Access::Anyone => None,
        }
    }
}

#[derive(Debug)]
pub enum Access {
    /// `allow: "anyone"`: no credential needed; a valid one still sets identity headers.
    Anyone,
    /// A credential that meets the global requirements and these.
    Authenticated(Requirements),
}

#[derive(Debug, Default)]
pub struct Requirements {
    pub groups_any: Vec<String>,
    pub groups_all: Vec<String>,
    /// Checked for bearer credentials only (sessions carry no scopes).
    pub scopes_any: Vec<String>,
    pub claims: Vec<ClaimRule>,
    /// `acr_values` and `max_age`: a stronger or more recent authentication.
    pub step_up: Option<StepUp>,
}

impl AuthzConfig {
    /// Whether any requirement or rule exists (else every credential passes).
    pub fn is_empty(&self) -> bool {
        self.allowed_email_domains.is_empty()
            && self.required_groups.is_none()
            && self.claims.is_empty()
            && self.rules.is_empty()
    }

    /// Whether a global requirement holds every credential (not only some paths).
    pub fn restricts_everyone(&self) -> bool {
        !self.allowed_email_domains.is_empty() || self.required_groups.is_some() || !self.claims.is_empty()
    }

    /// Every group a requirement or rule names.
    pub fn groups_named(&self) -> impl Iterator<Item = &str> {
        let global = match &self.required_groups {
            Some(GroupRule::Any(g) | GroupRule::All(g)) => g.as_slice(),
            None => &[],
        };
        let rules = self.rules.iter().flat_map(|r| match &r.access {
            Access::Authenticated(q) => q.groups_any.iter().chain(q.groups_all.iter()).collect::<Vec<_>>(),
            Access::Anyone => Vec::new(),
        });
        global.iter().chain(rules).map(String::as_str)
    }

    /// Whether a rule names methods (then the request's method is read).
    pub fn reads_methods(&self) -> bool {
        self.rules.iter().any(|r| !r.methods.is_empty())
    }

    /// The top-level claims the requirements read, to keep with an identity.
    pub fn claims_read(&self) -> Vec<String> {
        let mut names = Vec::new();
        let groups_rules = self.rules.iter().any(
            |r| matches!(&r.access, Access::Authenticated(q) if !q.groups_any.is_empty() || !q.groups_all.is_empty()),
        );
        if self.required_groups.is_some() || groups_rules {
            names.push(self.groups_claim.clone());
        }
        if !self.allowed_email_domains.is_empty() {
            names.extend(["email".to_string(), "email_verified".to_string()]);
        }
        let rule_claims = self.rules.iter().flat_map(|r| match &r.access {
            Access::Authenticated(req) => req.claims.iter().collect::<Vec<_>>(),
            Access::Anyone => Vec::new(),
        });
        names.extend(self.claims.iter().chain(rule_claims).map(|c| c.claim.clone()));
        if self.rules.iter().any(|r| matches!(&r.access, Access::Authenticated(q) if !q.scopes_any.is_empty())) {
            names.extend(["scope".to_string(), "scp".to_string()]);
        }
        if self.rules.iter().any(|r| r.step_up().is_some()) {
            names.extend(["acr".to_string(), "auth_time".to_string()]);
        }
        names
    }
}

#[cfg(test)]
mod tests;
