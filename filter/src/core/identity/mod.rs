//! Who the caller is, and how that reaches the app: claims to identity headers.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use crate::core::config::errors::Errors;

/// A verified caller, as the app will see it: the identity headers to set, and what
/// happens to `Authorization`. Shared by the caches, so a cache hit copies nothing.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Identity {
    pub headers: Vec<(String, String)>,
    pub authorization: Authorization,
}

/// `Debug` shows header names, not values (a forwarded ID token is one).
impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        write!(f, "Identity {{ headers: {names:?}, authorization: {:?} }}", self.authorization)
    }
}

/// What the upstream's `Authorization` becomes.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Authorization {
    /// As the client sent it (a bearer request's own token passes unchanged).
    #[default]
    Keep,
    /// `Bearer <the session's access token>` (`forward_access_token`).
    Bearer(String),
    /// Removed: forwarding is on but the session has no access token.
    Remove,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Authorization::Keep => "Keep",
            Authorization::Bearer(_) => "Bearer([redacted])",
            Authorization::Remove => "Remove",
        })
    }
}

/// How claims become identity headers.
#[derive(Debug, Clone, Default)]
pub struct IdentityConfig {
    /// `identity_headers`: for sessions and for tokens of issuers without their own.
    pub headers: Vec<HeaderMapping>,
    /// `require_email_verified`: `email` counts only with `email_verified: true`.
    pub require_email_verified: bool,
    /// Every header any mapping sets (global and per issuer). Each is set or removed on
    /// every request, and removed in every other spelling (`_` for `-`, any case).
    pub all_headers: Vec<String>,
}

impl Identity {
    /// The identity `mappings` make of verified claims. With `require_email_verified`,
    /// an `email` claim without `email_verified: true` is as good as absent.
    pub fn from_claims(
        mappings: &[HeaderMapping],
        claims: &Map<String, Value>,
        require_email_verified: bool,
    ) -> Rc<Identity> {
        let unverified = require_email_verified && !email_verified(claims);
        let usable = |m: &&HeaderMapping| !(unverified && top_level(&m.claim) == "email");
        let headers =
            mappings.iter().filter(usable).filter_map(|m| claim_value(claims, &m.claim).map(|v| (m.header.clone(), v)));
        Rc::new(Identity { headers: headers.collect(), authorization: Authorization::Keep })
    }
}

/// `email_verified` is `true` (a boolean, or the string some IdPs send).
pub fn email_verified(claims: &Map<String, Value>) -> bool {
    match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The names among `request_headers` that spell a configured identity header another way
/// (`x_user_email` or `X_User-Email` for `x-user-email`): CGI, WSGI and Rack servers read
/// them as the same variable, so a client could pose as the gate. They are removed.
pub fn other_spellings<'a>(configured: &[String], request_headers: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let same = |a: &str, b: &str| {
        a.len() == b.len()
            && a.bytes().zip(b.bytes()).all(|(x, y)| {
                let fold = |c: u8| if c == b'_' { b'-' } else { c.to_ascii_lowercase() };
                fold(x) == fold(y)
            })
    };
    request_headers.filter(|n| configured.iter().any(|c| !n.eq_ignore_ascii_case(c) && same(n, c))).collect()
}

/// Header values longer than this are not set.
pub const MAX_HEADER_VALUE: usize = 8 * 1024;

/// One `identity_headers` entry: header name and the claim it carries.
#[derive(Debug, Clone)]
pub struct HeaderMapping {
    pub header: String,
    /// The claim name; when no claim has this exact name and it contains dots, it is
    /// read as a path into nested objects (`realm_access.roles`).
    pub claim: String,
}

/// Headers this filter must never set from claims.
const RESERVED: [&str; 9] = [
    "authorization",
    "cookie",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "te",
    "upgrade",
    "proxy-authorization",
];

/// Why a configured header name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderNameError {
    Invalid,
    Reserved,
}

impl fmt::Display for HeaderNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeaderNameError::Invalid => "is not a valid header name (use lower-case letters, digits and '-')",
            HeaderNameError::Reserved => "cannot be set from a claim",
        })
    }
}

/// Checks a configured header name: lower-case token characters, not reserved.
pub fn check_header_name(name: &str) -> Result<(), HeaderNameError> {
    let valid = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.!#$%&'*+^`|~".contains(&b));
    if !valid {
        return Err(HeaderNameError::Invalid);
    }
    if RESERVED.contains(&name) {
        return Err(HeaderNameError::Reserved);
    }
    Ok(())
}

/// Compiles an `identity_headers` map (`{"header": "claim"}`) found at `field`.
pub fn compile(field: &str, raw: &BTreeMap<String, String>, errors: &mut Errors) -> Vec<HeaderMapping> {
    let mut mappings = Vec::new();
    for (header, claim) in raw {
        if let Err(e) = check_header_name(header) {
            errors.push(format!("{field}.{header}"), e);
        } else if claim.is_empty() {
            errors.push(format!("{field}.{header}"), "must name a claim");
        } else {
            mappings.push(HeaderMapping { header: header.clone(), claim: claim.clone() });
        }
    }
    mappings
}

fn lookup<'a>(claims: &'a Map<String, Value>, claim: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(claim) {
        return Some(v);
    }
    if !claim.contains('.') {
        return None;
    }
    let mut parts = claim.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A claim as a header value: strings, numbers and booleans as text; arrays of them
/// joined with `,`. Objects, nulls, values with control characters or over
/// [`MAX_HEADER_VALUE`] give `None`, and the header is not set.
pub fn claim_value(claims: &Map<String, Value>, claim: &str) -> Option<String> {
    let value = match lookup(claims, claim)? {
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items.iter().map(scalar).collect();
            let parts = parts?;
            // An element with a comma would read as two values ("x,admins"): refuse.
            if parts.iter().any(|p| p.contains(',')) {
                return None;
            }
            parts.join(",")
        }
        other => scalar(other)?,
    };
    let safe = value.len() <= MAX_HEADER_VALUE && !value.bytes().any(|b| b < b' ' && b != b'\t' || b == 0x7f);
    safe.then_some(value)
}

/// The claims a session keeps for its identity: the top-level claims the mappings read
/// (a dotted name keeps its first part), and `sub`.
pub fn kept_claims(mappings: &[HeaderMapping], claims: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for m in mappings {
        let key = if claims.contains_key(&m.claim) { m.claim.as_str() } else { top_level(&m.claim) };
        if let Some(v) = claims.get(key) {
            out.insert(key.to_string(), v.clone());
        }
    }
    for always in ["sub", "email_verified"] {
        if let Some(v) = claims.get(always) {
            out.insert(always.into(), v.clone());
        }
    }
    out
}

/// Whether some mapped claim is absent from `claims` (userinfo may have it).
pub fn lacks_mapped_claims(mappings: &[HeaderMapping], claims: &Map<String, Value>) -> bool {
    mappings.iter().any(|m| !claims.contains_key(&m.claim) && !claims.contains_key(top_level(&m.claim)))
}

fn top_level(claim: &str) -> &str {
    claim.split('.').next().unwrap_or(claim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn formats_scalars_and_arrays() {
        let c = claims(json!({"sub":"u1","n":42,"ok":true,"groups":["a","b"],"mixed":[1,"x",false],
            "realm_access":{"roles":["r1","r2"]},"https://ns.example/groups":["g"],"obj":{"a":1},"nul":null}));
        assert_eq!(claim_value(&c, "sub").as_deref(), Some("u1"));
        assert_eq!(claim_value(&c, "n").as_deref(), Some("42"));
        assert_eq!(claim_value(&c, "ok").as_deref(), Some("true"));
        assert_eq!(claim_value(&c, "groups").as_deref(), Some("a,b"));
        assert_eq!(claim_value(&c, "mixed").as_deref(), Some("1,x,false"));
        assert_eq!(claim_value(&c, "realm_access.roles").as_deref(), Some("r1,r2"));
        assert_eq!(claim_value(&c, "https://ns.example/groups").as_deref(), Some("g"));
        assert_eq!(claim_value(&c, "obj"), None);
        assert_eq!(claim_value(&c, "nul"), None);
        assert_eq!(claim_value(&c, "missing"), None);
    }

    #[test]
    fn refuses_values_that_would_split_headers() {
        let c = claims(json!({"evil":"a\r\nx-user-id: admin","nul":"a\u{0}b","big":"x".repeat(MAX_HEADER_VALUE + 1)}));
        assert_eq!(claim_value(&c, "evil"), None);
        assert_eq!(claim_value(&c, "nul"), None);
        assert_eq!(claim_value(&c, "big"), None);
        let groups = claims(json!({"groups": ["dev", "x,admins"]}));
        assert_eq!(claim_value(&groups, "groups"), None, "a comma inside a group would forge another group");
    }

    #[test]
    fn email_counts_only_when_verified_if_so_configured() {
        let m = vec![
            HeaderMapping { header: "x-user-email".into(), claim: "email".into() },
            HeaderMapping { header: "x-user-id".into(), claim: "sub".into() },
        ];
        let unverified = claims(json!({"sub": "u", "email": "ceo@corp.example", "email_verified": false}));
        let headers = |c: &Map<String, Value>, require| Identity::from_claims(&m, c, require).headers.clone();
        assert!(
            !format!("{:?}", Identity::from_claims(&m, &unverified, false)).contains("ceo@"),
            "Debug shows no value"
        );
        assert_eq!(headers(&unverified, true), vec![("x-user-id".to_string(), "u".to_string())]);
        assert_eq!(headers(&unverified, false).len(), 2);
        let absent = claims(json!({"sub": "u", "email": "a@b"}));
        assert_eq!(headers(&absent, true).len(), 1);
        for verified in [json!(true), json!("true"), json!("True")] {
            let c = claims(json!({"sub": "u", "email": "a@b", "email_verified": verified}));
            assert_eq!(headers(&c, true).len(), 2);
        }
    }

    #[test]
    fn other_spellings_of_identity_headers_are_found() {
        let configured = vec!["x-user-email".to_string(), "kubeflow-userid".to_string()];
        let sent = [
            "x_user_email",
            "X_User-Email",
            "x-user_email",
            "x-user-email",
            "x_user_emails",
            "xx_user_email",
            "kubeflow_userid",
            "authorization",
            "x-user--email",
        ];
        assert_eq!(
            other_spellings(&configured, sent.iter().copied()),
            vec!["x_user_email", "X_User-Email", "x-user_email", "kubeflow_userid"]
        );
    }

    #[test]
    fn header_names_are_checked() {
        assert!(check_header_name("x-user-id").is_ok());
        assert_eq!(check_header_name("X-User"), Err(HeaderNameError::Invalid));
        assert_eq!(check_header_name(":path"), Err(HeaderNameError::Invalid));
        assert_eq!(check_header_name("authorization"), Err(HeaderNameError::Reserved));
        assert_eq!(
            HeaderNameError::Invalid.to_string(),
            "is not a valid header name (use lower-case letters, digits and '-')"
        );
    }
}
