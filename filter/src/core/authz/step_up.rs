//! Step-up per route: a rule may require an authentication context (`acr_values`) and an
//! authentication no older than `max_age`, read from the `acr` and `auth_time` claims of
//! the ID token (sessions) or of the access token (bearer, RFC 9470).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Duration;

/// What a rule requires of the authentication itself. Also kept in a step-up login's
/// flow cookie, so that the callback checks the new ID token against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUp {
    /// `acr` must be one of these (none: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acr_values: Vec<String>,
    /// `auth_time` no older than this (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
}

impl StepUp {
    /// Whether these claims meet it at `now_s`: `acr` one of `acr_values`, `auth_time`
    /// present and within `max_age` (and the clock skew) of now. Whatever is missing fails.
    pub fn met_by(&self, claims: &Map<String, Value>, now_s: u64, skew: Duration) -> bool {
        let acr = claims.get("acr").and_then(Value::as_str);
        if !self.acr_values.is_empty() && !acr.is_some_and(|a| self.acr_values.iter().any(|v| v == a)) {
            return false;
        }
        let Some(max_age) = self.max_age else { return true };
        let auth_time = claims.get("auth_time").and_then(Value::as_f64).filter(|t| (0.0..1e13).contains(t));
        auth_time.is_some_and(|t| (t as u64).saturating_add(max_age).saturating_add(skew.as_secs()) >= now_s)
    }

    /// `acr_values` as the authorization request and the challenge carry it.
    pub fn acr_param(&self) -> Option<String> {
        (!self.acr_values.is_empty()).then(|| self.acr_values.join(" "))
    }

    /// The RFC 9470 challenge's parameters: `acr_values="…"` and `max_age="…"`.
    pub fn challenge_params(&self) -> String {
        let mut out = String::new();
        if let Some(acr) = self.acr_param() {
            out.push_str(&format!(", acr_values=\"{acr}\""));
        }
        if let Some(max_age) = self.max_age {
            out.push_str(&format!(", max_age=\"{max_age}\""));
        }
        out
    }
}

/// Whether an `acr` value can go into a URL and a header as it is.
pub fn plain_acr(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' && b != b',')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;
    const SKEW: Duration = Duration::from_secs(60);

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn acr_must_be_one_of_the_values_and_auth_time_recent_enough() {
        let mfa = StepUp { acr_values: vec!["mfa".into(), "hwk".into()], max_age: None };
        assert!(mfa.met_by(&claims(json!({"acr": "hwk"})), NOW, SKEW));
        assert!(!mfa.met_by(&claims(json!({"acr": "pwd"})), NOW, SKEW));
        assert!(!mfa.met_by(&claims(json!({})), NOW, SKEW), "no acr at all");
        assert!(!mfa.met_by(&claims(json!({"acr": ["mfa"]})), NOW, SKEW), "not a string");
        let recent = StepUp { acr_values: vec![], max_age: Some(900) };
        assert!(recent.met_by(&claims(json!({"auth_time": NOW - 900})), NOW, SKEW));
        assert!(recent.met_by(&claims(json!({"auth_time": NOW - 960})), NOW, SKEW), "within the skew");
        assert!(!recent.met_by(&claims(json!({"auth_time": NOW - 961})), NOW, SKEW));
        assert!(!recent.met_by(&claims(json!({})), NOW, SKEW), "no auth_time");
        assert!(!recent.met_by(&claims(json!({"auth_time": "yesterday"})), NOW, SKEW));
        let both = StepUp { acr_values: vec!["mfa".into()], max_age: Some(900) };
        assert!(!both.met_by(&claims(json!({"acr": "mfa", "auth_time": NOW - 5000})), NOW, SKEW));
        assert!(both.met_by(&claims(json!({"acr": "mfa", "auth_time": NOW})), NOW, SKEW));
        assert_eq!(both.challenge_params(), ", acr_values=\"mfa\", max_age=\"900\"");
    }

    #[test]
    fn acr_values_that_could_break_a_header_or_url_are_not_plain() {
        for bad in ["", "a b", "a\"b", "a,b", "a\\b", "é"] {
            assert!(!plain_acr(bad), "{bad:?}");
        }
        assert!(plain_acr("urn:mace:incommon:iap:silver") && plain_acr("mfa"));
    }
}
