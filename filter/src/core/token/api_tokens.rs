//! Static API tokens (`bearer.api_tokens`): the config holds only the SHA-256 of each
//! token, never the token; a presented token is hashed and looked up. Each has a name
//! (its `sub`), groups and scopes, and optionally more claims, which feed the identity
//! headers (and the rules) like any verified token's claims.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::rc::Rc;

use crate::core::config::errors::Errors;
use crate::core::config::raw::RawApiToken;

/// The configured API tokens, by digest.
#[derive(Debug, Default)]
pub struct ApiTokens {
    by_digest: HashMap<[u8; 32], Rc<Map<String, Value>>>,
}

impl ApiTokens {
    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }

    /// The claims of the API token `token` is, if it is one.
    pub fn find(&self, token: &str) -> Option<Rc<Map<String, Value>>> {
        if self.by_digest.is_empty() {
            return None;
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.by_digest.get(&digest).cloned()
    }

    pub fn compile(raw: &[RawApiToken], errors: &mut Errors) -> ApiTokens {
        let mut by_digest = HashMap::new();
        for (n, t) in raw.iter().enumerate() {
            let field = format!("bearer.api_tokens[{n}]");
            if t.name.is_empty() || t.name.bytes().any(|b| b.is_ascii_control()) {
                errors.push(format!("{field}.name"), "must be a non-empty name without control characters");
            }
            let Some(digest) = hex_digest(&t.sha256) else {
                errors.push(format!("{field}.sha256"), "must be the 64 hex digits of the token's SHA-256");
                continue;
            };
            if let Some(own) = ["sub", "groups", "scope"].iter().find(|c| t.claims.contains_key(**c)) {
                errors.push(format!("{field}.claims.{own}"), "comes from name, groups and scopes; set it there");
            }
            let mut claims = t.claims.clone();
            claims.insert("sub".into(), json!(t.name));
            claims.insert("groups".into(), json!(t.groups));
            claims.insert("scope".into(), json!(t.scopes.join(" ")));
            if by_digest.insert(digest, Rc::new(claims)).is_some() {
                errors.push(format!("{field}.sha256"), "is listed twice");
            }
        }
        ApiTokens { by_digest }
    }
}

fn hex_digest(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let hi = (*pair.first()? as char).to_digit(16)?;
        let lo = (*pair.get(1)? as char).to_digit(16)?;
        *out.get_mut(i)? = (hi * 16 + lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: Value) -> Vec<RawApiToken> {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_token_is_found_by_its_digest_only() {
        // sha256("ci-secret-token")
        let digest = format!("{:x}", Sha256::digest(b"ci-secret-token"));
        let mut errors = Errors::default();
        let tokens = ApiTokens::compile(
            &raw(
                json!([{"name": "ci-bot", "sha256": digest.to_uppercase(), "groups": ["ci"], "scopes": ["api:read", "api:write"],
                "claims": {"team": "platform"}}]),
            ),
            &mut errors,
        );
        assert!(errors.finish(()).is_ok());
        let claims = tokens.find("ci-secret-token").unwrap();
        assert_eq!(claims.get("sub"), Some(&json!("ci-bot")));
        assert_eq!(claims.get("groups"), Some(&json!(["ci"])));
        assert_eq!(claims.get("scope"), Some(&json!("api:read api:write")));
        assert_eq!(claims.get("team"), Some(&json!("platform")));
        assert!(tokens.find("ci-secret-tokeN").is_none());
        assert!(tokens.find(&digest).is_none(), "the digest itself is no token");
    }

    #[test]
    fn malformed_digests_and_clashing_claims_are_config_errors() {
        let mut errors = Errors::default();
        ApiTokens::compile(
            &raw(json!([
                {"name": "a", "sha256": "abc"},
                {"name": "b", "sha256": "zz".repeat(32)},
                {"name": "", "sha256": "0".repeat(64), "claims": {"sub": "root"}},
                {"name": "d", "sha256": "0".repeat(64)},
            ])),
            &mut errors,
        );
        let errs: Vec<String> = errors.finish(()).unwrap_err().iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            vec![
                "bearer.api_tokens[0].sha256: must be the 64 hex digits of the token's SHA-256",
                "bearer.api_tokens[1].sha256: must be the 64 hex digits of the token's SHA-256",
                "bearer.api_tokens[2].name: must be a non-empty name without control characters",
                "bearer.api_tokens[2].claims.sub: comes from name, groups and scopes; set it there",
                "bearer.api_tokens[3].sha256: is listed twice",
            ]
        );
    }
}
