//! Identity headers shaped for an app: `user_id` (one claim, prefixed and transformed by
//! ordered regexes, as Kubeflow's `USERID_TRANSFORMERS`) and `groups_header` (the groups
//! joined by a separator).

use serde_json::{Map, Value};

use super::claims::{claim_value, lookup, scalar, MAX_HEADER_VALUE};
use super::headers::check_header_name;
use crate::core::config::errors::Errors;
use crate::core::config::raw::{RawGroupsHeader, RawUserId};

#[derive(Debug, Clone)]
pub struct UserIdHeader {
    pub header: String,
    pub claim: String,
    pub prefix: String,
    /// Ordered: the first whose regex matches rewrites the value.
    pub transformers: Vec<(regex_lite::Regex, String)>,
}

impl UserIdHeader {
    pub fn compile(raw: &RawUserId, errors: &mut Errors) -> UserIdHeader {
        if let Err(e) = check_header_name(&raw.header) {
            errors.push("user_id.header", e);
        }
        if raw.claim.is_empty() {
            errors.push("user_id.claim", "must name a claim");
        }
        if !safe(&raw.prefix) {
            errors.push("user_id.prefix", "must be printable text without control characters");
        }
        let mut transformers = Vec::new();
        for (n, t) in raw.transformers.iter().enumerate() {
            match regex_lite::Regex::new(&t.matches) {
                Ok(r) => transformers.push((r, t.replace.clone())),
                Err(e) => errors.push(
                    format!("user_id.transformers[{n}].matches"),
                    format!("invalid regex: {}", e.to_string().lines().next().unwrap_or("")),
                ),
            }
        }
        UserIdHeader { header: raw.header.clone(), claim: raw.claim.clone(), prefix: raw.prefix.clone(), transformers }
    }

    /// The header: prefix and the claim's value, rewritten by the first transformer whose
    /// regex matches. No value (or an unsafe one) leaves the header unset.
    pub fn header(&self, claims: &Map<String, Value>) -> Option<(String, String)> {
        let value = claim_value(claims, &self.claim)?;
        let value = match self.transformers.iter().find(|(r, _)| r.is_match(&value)) {
            Some((r, replace)) => r.replace(&value, replace.as_str()).into_owned(),
            None => value,
        };
        let full = format!("{}{value}", self.prefix);
        (safe(&full) && !value.is_empty()).then(|| (self.header.clone(), full))
    }
}

#[derive(Debug, Clone)]
pub struct GroupsHeader {
    pub header: String,
    pub claim: String,
    pub separator: String,
}

impl GroupsHeader {
    /// `claim`: where the groups come from (`groups_claim`, see the config compiler).
    pub fn compile(raw: &RawGroupsHeader, claim: &str, errors: &mut Errors) -> GroupsHeader {
        if let Err(e) = check_header_name(&raw.header) {
            errors.push("groups_header.header", e);
        }
        let separator = raw.separator.clone().unwrap_or_else(|| ",".to_string());
        if separator.is_empty() || !safe(&separator) {
            errors.push("groups_header.separator", "must be a non-empty printable separator");
        }
        GroupsHeader { header: raw.header.clone(), claim: claim.to_string(), separator }
    }

    /// The groups joined by the separator. A group containing the separator would read as
    /// two (`"x,admins"`): then the header is not set at all.
    pub fn header(&self, claims: &Map<String, Value>) -> Option<(String, String)> {
        let groups: Vec<String> = match lookup(claims, &self.claim)? {
            Value::Array(items) => items.iter().map(scalar).collect::<Option<Vec<_>>>()?,
            other => vec![scalar(other)?],
        };
        if groups.iter().any(|g| g.contains(self.separator.as_str())) {
            return None;
        }
        let value = groups.join(&self.separator);
        safe(&value).then(|| (self.header.clone(), value))
    }
}

fn safe(value: &str) -> bool {
    value.len() <= MAX_HEADER_VALUE && !value.bytes().any(|b| b < b' ' && b != b'\t' || b == 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user_id(raw: Value) -> UserIdHeader {
        let mut errors = Errors::default();
        let u = UserIdHeader::compile(&serde_json::from_value(raw).unwrap(), &mut errors);
        errors.finish(u).unwrap()
    }

    #[test]
    fn kubeflow_user_ids_are_prefixed_and_transformed_by_the_first_match() {
        let u = user_id(json!({"header": "kubeflow-userid", "claim": "email", "prefix": "accounts.google.com:",
            "transformers": [{"matches": "^(.*)@example\\.com$", "replace": "$1"}, {"matches": "^(.*)@(.*)$", "replace": "$1-$2"}]}));
        let claims = |e: &str| json!({"email": e}).as_object().unwrap().clone();
        assert_eq!(
            u.header(&claims("alice@example.com")),
            Some(("kubeflow-userid".into(), "accounts.google.com:alice".into()))
        );
        assert_eq!(u.header(&claims("bob@other.org")).unwrap().1, "accounts.google.com:bob-other.org");
        assert_eq!(u.header(&json!({}).as_object().unwrap().clone()), None);
        let plain = user_id(json!({"header": "x-user", "claim": "sub"}));
        assert_eq!(plain.header(&json!({"sub": "u1"}).as_object().unwrap().clone()).unwrap().1, "u1");
    }

    #[test]
    fn groups_are_joined_and_a_group_holding_the_separator_sets_nothing() {
        let mut errors = Errors::default();
        let g = GroupsHeader::compile(
            &serde_json::from_value(json!({"header": "kubeflow-groups", "separator": ";"})).unwrap(),
            "realm_access.roles",
            &mut errors,
        );
        let claims = |v: Value| json!({"realm_access": {"roles": v}}).as_object().unwrap().clone();
        assert_eq!(g.header(&claims(json!(["a", "b,c"]))), Some(("kubeflow-groups".into(), "a;b,c".into())));
        assert_eq!(g.header(&claims(json!(["a", "x;admins"]))), None);
        assert_eq!(g.header(&claims(json!("solo"))).unwrap().1, "solo");
    }
}
