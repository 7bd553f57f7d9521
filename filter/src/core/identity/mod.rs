//! Who the caller is, and how that reaches the app: claims to identity headers
//! (`identity_headers`, and the shaped `user_id` and `groups_header`), the claims kept with
//! an identity for the rules, and the other spellings of identity headers a client sends.

pub mod claims;
pub mod headers;
pub mod overage;
pub mod shaped;

use serde_json::{Map, Value};
use std::borrow::Cow;
use std::rc::Rc;

pub use claims::{claim_value, email_verified, kept_claims, lookup, MAX_HEADER_VALUE};
pub use headers::{check_header_name, compile, other_spellings, HeaderMapping, HeaderNameError};
pub use shaped::{GroupsHeader, UserIdHeader};

/// A verified caller, as the app will see it: the identity headers to set, what happens to
/// `Authorization`, and the claims the rules read. Shared by the caches, so a cache hit
/// copies nothing.
#[derive(Clone, PartialEq, Default)]
pub struct Identity {
    pub headers: Vec<(String, String)>,
    pub authorization: Authorization,
    pub claims: Map<String, Value>,
}

/// `Debug` shows header and claim names, not values (a forwarded ID token is a header).
impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        let claims: Vec<&String> = self.claims.keys().collect();
        write!(f, "Identity {{ headers: {names:?}, claims: {claims:?}, authorization: {:?} }}", self.authorization)
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
    /// `user_id`: one header, prefixed and transformed (Kubeflow's `kubeflow-userid`).
    pub user_id: Option<UserIdHeader>,
    /// `groups_header`: the groups joined by a separator (Kubeflow's `kubeflow-groups`).
    pub groups_header: Option<GroupsHeader>,
    /// `require_email_verified`: `email` counts only with `email_verified: true`.
    pub require_email_verified: bool,
    /// Every header any mapping sets (global and per issuer, shaped ones too). Each is set
    /// or removed on every request, and removed in every other spelling.
    pub all_headers: Vec<String>,
    /// Top-level claims kept with an identity (sessions, caches): what the headers and the
    /// rules read, `sub` and `email_verified`.
    pub kept: Vec<String>,
}

impl IdentityConfig {
    /// The identity of verified claims; `mappings` replaces `identity_headers` (an
    /// issuer's own). With `require_email_verified`, an `email` claim without
    /// `email_verified: true` is as good as absent, for headers and rules alike.
    pub fn identity(&self, mappings: Option<&[HeaderMapping]>, claims: &Map<String, Value>) -> Rc<Identity> {
        let claims: Cow<'_, Map<String, Value>> = if self.require_email_verified && !email_verified(claims) {
            let mut c = claims.clone();
            c.remove("email");
            Cow::Owned(c)
        } else {
            Cow::Borrowed(claims)
        };
        let mappings = mappings.unwrap_or(&self.headers);
        let mut headers: Vec<(String, String)> =
            mappings.iter().filter_map(|m| claim_value(&claims, &m.claim).map(|v| (m.header.clone(), v))).collect();
        headers.extend(self.user_id.as_ref().and_then(|u| u.header(&claims)));
        headers.extend(self.groups_header.as_ref().and_then(|g| g.header(&claims)));
        Rc::new(Identity { headers, authorization: Authorization::Keep, claims: kept_claims(&self.kept, &claims) })
    }

    /// The claims a session keeps.
    pub fn kept_claims(&self, claims: &Map<String, Value>) -> Map<String, Value> {
        kept_claims(&self.kept, claims)
    }

    /// Whether a claim the headers or rules read is absent (userinfo may have it).
    pub fn lacks(&self, claims: &Map<String, Value>) -> bool {
        self.kept
            .iter()
            .filter(|k| !["sub", "email_verified", "scope", "scp", "iss"].contains(&k.as_str()))
            .filter(|k| !overage::MARKERS.contains(&k.as_str()))
            .any(|k| !claims.contains_key(k))
    }
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
        let config =
            |require| IdentityConfig { headers: m.clone(), require_email_verified: require, ..Default::default() };
        let headers = |c: &Map<String, Value>, require| config(require).identity(None, c).headers.clone();
        assert!(!format!("{:?}", config(false).identity(None, &unverified)).contains("ceo@"), "Debug shows no value");
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
