//! Which `iss` values an issuer's tokens may carry. The rule is exact match with the
//! configured issuer, with two documented exceptions: `issuer_aliases` (Google's ID tokens
//! say `accounts.google.com` while discovery says `https://accounts.google.com`), and the
//! Microsoft Entra ID `{tenantid}` template, only for a multi-tenant issuer
//! (`…/organizations/v2.0`, `…/common/v2.0`, `…/consumers/v2.0`) or an alias that holds
//! it: the template is filled with the token's own `tid`, which must be in `tenants`.

use serde_json::{Map, Value};

use super::JwtError;

/// The placeholder of a multi-tenant issuer, as Entra's discovery document writes it.
pub const TENANT: &str = "{tenantid}";

/// The first path segments that make an issuer a multi-tenant Entra endpoint.
const MULTI_TENANT: [&str; 3] = ["common", "organizations", "consumers"];

/// Which `iss` values a provider's tokens may carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssuerRule {
    /// As configured.
    pub issuer: String,
    /// `issuer_aliases`: more values, exactly; one holding `{tenantid}` is a template.
    pub aliases: Vec<String>,
    /// A multi-tenant issuer's template: the issuer with its tenant segment replaced by
    /// `{tenantid}`, which its discovery document names instead of the issuer itself.
    pub template: Option<String>,
    /// `tenants`: the `tid` values a template accepts.
    pub tenants: Vec<String>,
}

impl IssuerRule {
    pub fn new(issuer: &str, aliases: Vec<String>, tenants: Vec<String>) -> IssuerRule {
        IssuerRule { issuer: issuer.to_string(), aliases, template: multi_tenant_template(issuer), tenants }
    }

    /// The `issuer` the discovery document must name: the template for a multi-tenant
    /// issuer, else the issuer itself.
    pub fn discovery_issuer(&self) -> &str {
        self.template.as_deref().unwrap_or(&self.issuer)
    }

    /// Whether tokens are checked against a `{tenantid}` template (the issuer's or an alias).
    pub fn templated(&self) -> bool {
        self.templates().next().is_some()
    }

    fn templates(&self) -> impl Iterator<Item = &str> {
        self.template
            .iter()
            .map(String::as_str)
            .chain(self.aliases.iter().map(String::as_str).filter(|a| a.contains(TENANT)))
    }

    /// Whether a token stating `iss` (and `tid`) comes from this issuer. A multi-tenant
    /// issuer never signs tokens in its own name: only its template counts.
    pub fn accepts(&self, iss: &str, tid: Option<&str>) -> bool {
        (self.template.is_none() && iss == self.issuer)
            || self.aliases.iter().any(|a| !a.contains(TENANT) && a == iss)
            || tid.is_some_and(|tid| {
                self.tenants.iter().any(|t| t == tid) && self.templates().any(|t| fill(t, tid).as_deref() == Some(iss))
            })
    }

    /// An `iss` without a `tid` to read (RFC 9207's on an authorization response; a
    /// token's before its signature is checked): the issuer, an alias, or a template
    /// filled with one of `tenants`.
    pub fn accepts_response_iss(&self, iss: &str) -> bool {
        self.accepts(iss, None) || self.tenants.iter().any(|t| self.accepts(iss, Some(t)))
    }

    /// The verified token's `iss` when this issuer accepts it, for the exact-match check
    /// of [`super::Jwt::check`].
    pub fn checked<'c>(&self, claims: &'c Map<String, Value>) -> Result<&'c str, JwtError> {
        let iss = claims.get("iss").and_then(Value::as_str).ok_or(JwtError::UnknownIssuer)?;
        let tid = claims.get("tid").and_then(Value::as_str);
        if self.accepts(iss, tid) {
            Ok(iss)
        } else {
            Err(JwtError::UnknownIssuer)
        }
    }
}

/// `{tenantid}` replaced by a tenant that has the shape of one ([`plain_tenant`]), else
/// none: no `iss` matches.
fn fill(template: &str, tid: &str) -> Option<String> {
    plain_tenant(tid).then(|| template.replacen(TENANT, tid, 1))
}

/// A tenant id's shape: 1 to 64 letters, digits, `-`, `.`, `_` (no `/`, `?`, `#`, no
/// placeholder). The config refuses `tenants` of any other shape.
pub fn plain_tenant(tid: &str) -> bool {
    !tid.is_empty() && tid.len() <= 64 && tid.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

/// `https://host/organizations/v2.0` gives `https://host/{tenantid}/v2.0`; an issuer
/// whose first path segment is not a multi-tenant one gives none.
pub fn multi_tenant_template(issuer: &str) -> Option<String> {
    let (scheme, rest) = issuer.split_once("://")?;
    let (host, path) = rest.split_once('/')?;
    let (first, tail) = path.split_once('/').unwrap_or((path, ""));
    if !MULTI_TENANT.contains(&first) {
        return None;
    }
    let tail = if path.contains('/') { format!("/{tail}") } else { String::new() };
    Some(format!("{scheme}://{host}/{TENANT}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENTRA: &str = "https://login.microsoftonline.com/organizations/v2.0";
    const T1: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
    const T2: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn v2(tid: &str) -> String {
        format!("https://login.microsoftonline.com/{tid}/v2.0")
    }

    #[test]
    fn the_exact_issuer_and_only_it_passes_without_aliases() {
        let r = IssuerRule::new("https://idp.example.com", vec![], vec![]);
        assert!(r.accepts("https://idp.example.com", None));
        for other in ["https://idp.example.com/", "idp.example.com", "https://IDP.example.com", ""] {
            assert!(!r.accepts(other, None), "{other}");
        }
        assert_eq!(r.discovery_issuer(), "https://idp.example.com");
        assert!(!r.templated());
    }

    #[test]
    fn google_bare_issuer_passes_only_through_an_alias() {
        let bare = IssuerRule::new("https://accounts.google.com", vec![], vec![]);
        assert!(!bare.accepts("accounts.google.com", None));
        let aliased = IssuerRule::new("https://accounts.google.com", vec!["accounts.google.com".into()], vec![]);
        assert!(aliased.accepts("accounts.google.com", None) && aliased.accepts("https://accounts.google.com", None));
        assert!(!aliased.accepts("accounts.google.com.evil", None));
    }

    #[test]
    fn a_multi_tenant_issuer_accepts_its_template_filled_with_an_allowed_tid() {
        assert_eq!(multi_tenant_template(ENTRA).as_deref(), Some("https://login.microsoftonline.com/{tenantid}/v2.0"));
        assert_eq!(
            multi_tenant_template("https://login.microsoftonline.com/common").as_deref(),
            Some("https://login.microsoftonline.com/{tenantid}")
        );
        assert_eq!(multi_tenant_template(&v2(T1)), None, "a single-tenant issuer has no template");
        assert_eq!(multi_tenant_template("https://idp.example.com/realms/common"), None);
        let r = IssuerRule::new(ENTRA, vec![], vec![T1.into()]);
        assert_eq!(r.discovery_issuer(), "https://login.microsoftonline.com/{tenantid}/v2.0");
        assert!(r.accepts(&v2(T1), Some(T1)));
        assert!(!r.accepts(&v2(T2), Some(T2)), "a tenant not in tenants");
        assert!(!r.accepts(&v2(T1), Some(T2)), "the iss must be filled with the token's own tid");
        assert!(!r.accepts(&v2(T1), None), "no tid, no tenant");
        assert!(!r.accepts(ENTRA, None), "the multi-tenant endpoint signs nothing in its own name");
        assert!(!r.accepts("https://login.microsoftonline.com/{tenantid}/v2.0", Some(TENANT)), "the template itself");
        assert!(r.accepts_response_iss(&v2(T1)) && !r.accepts_response_iss(&v2(T2)));
    }

    #[test]
    fn a_templated_issuer_with_no_tenants_accepts_nothing() {
        let r = IssuerRule::new(ENTRA, vec![], vec![]);
        assert!(r.templated());
        assert!(!r.accepts(&v2(T1), Some(T1)));
    }

    #[test]
    fn a_v1_alias_template_accepts_sts_tokens_of_allowed_tenants() {
        let r = IssuerRule::new(&v2(T1), vec!["https://sts.windows.net/{tenantid}/".into()], vec![T1.into()]);
        assert!(r.accepts(&v2(T1), Some(T1)), "the single-tenant v2 issuer, exactly");
        assert!(r.accepts(&format!("https://sts.windows.net/{T1}/"), Some(T1)));
        assert!(!r.accepts(&format!("https://sts.windows.net/{T2}/"), Some(T2)));
        assert!(!r.accepts("https://sts.windows.net/{tenantid}/", Some(TENANT)));
        assert!(!r.accepts("https://sts.windows.net/a/b/", Some("a/b")), "a tid with a slash fills nothing");
    }

    #[test]
    fn checked_reads_iss_and_tid_from_verified_claims() {
        let r = IssuerRule::new(ENTRA, vec![], vec![T1.into()]);
        let claims = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(r.checked(&claims(json!({"iss": v2(T1), "tid": T1}))), Ok(v2(T1).as_str()));
        assert_eq!(r.checked(&claims(json!({"iss": v2(T2), "tid": T2}))), Err(JwtError::UnknownIssuer));
        assert_eq!(r.checked(&claims(json!({"tid": T1}))), Err(JwtError::UnknownIssuer));
    }

    #[test]
    fn a_tenant_that_fills_no_template_matches_no_iss() {
        // A tid the template cannot take (over 64 bytes) once filled it with a sentinel that a
        // token's `iss` could state ("\u0000"); the config must also refuse such a tenant.
        let long = "a".repeat(65);
        let r = IssuerRule::new(ENTRA, vec![], vec![long.clone()]);
        assert!(!r.accepts("\0", Some(&long)));
        assert!(!r.accepts_response_iss("\0"));
    }
}
