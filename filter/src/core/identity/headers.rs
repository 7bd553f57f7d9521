//! Identity header names: checked at config time, compiled from `identity_headers`, and
//! every other spelling of them found in a request (they are removed).

use std::collections::BTreeMap;
use std::fmt;

use crate::core::config::errors::Errors;

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
