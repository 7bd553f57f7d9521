//! Reading claims: nested names, header-safe values, `email_verified`, and the claims
//! kept with an identity.

use serde_json::{Map, Value};

/// Header values longer than this are not set.
pub const MAX_HEADER_VALUE: usize = 8 * 1024;

/// `email_verified` is `true` (a boolean, or the string some IdPs send).
pub fn email_verified(claims: &Map<String, Value>) -> bool {
    match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Whether a claim name is namespaced (`https://example.com/roles`, Auth0's custom
/// claims): a name with `/` or `:` is always one name, never a path.
pub fn namespaced(claim: &str) -> bool {
    claim.contains(['/', ':'])
}

/// A claim by name; a dotted name (`realm_access.roles`) reads nested objects when no
/// claim has that exact name, unless it is [`namespaced`].
pub fn lookup<'a>(claims: &'a Map<String, Value>, claim: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(claim) {
        return Some(v);
    }
    if !claim.contains('.') || namespaced(claim) {
        return None;
    }
    let mut parts = claim.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

pub fn scalar(v: &Value) -> Option<String> {
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

/// The claims kept with an identity (in a session, in a cache): those named in `kept`
/// (top-level names), when present.
pub fn kept_claims(kept: &[String], claims: &Map<String, Value>) -> Map<String, Value> {
    kept.iter().filter_map(|name| claims.get(name).map(|v| (name.clone(), v.clone()))).collect()
}

/// The top-level name of a claim that `lookup` reads: the name itself when some claim has
/// it, else its first dotted part.
pub fn read_name<'a>(claims: &Map<String, Value>, claim: &'a str) -> &'a str {
    if claims.contains_key(claim) {
        claim
    } else {
        top_level(claim)
    }
}

/// The top-level name of a dotted claim name (a namespaced name is its own).
pub fn top_level(claim: &str) -> &str {
    if namespaced(claim) {
        return claim;
    }
    claim.split('.').next().unwrap_or(claim)
}
