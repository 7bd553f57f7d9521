//! Microsoft Entra ID's groups overage: past 200 groups (6 in the implicit flow) a token
//! carries no `groups` claim but a pointer to where they are, as a distributed claim
//! (OpenID Connect Core 1.0 section 5.6.2: `_claim_names: {"groups": "src1"}` and
//! `_claim_sources`), or `hasgroups: true`. Such a token is never read as "in no group":
//! a group rule refuses it with this reason, the groups header is left unset, and a
//! login with `graph_url` reads the groups from Microsoft Graph instead.

use serde_json::{Map, Value};

use super::claims::{lookup, read_name};

/// The claims that mark an overage, kept with an identity whenever the groups are read.
pub const MARKERS: [&str; 2] = ["_claim_names", "hasgroups"];

/// Why a group rule refuses a token whose groups were left out (for the log).
pub const REASON: &str = "the token leaves its groups out (Entra ID groups overage: _claim_names or hasgroups); set graph_url to read them from Microsoft Graph at login";

/// Whether the groups claim is absent because the IdP left the groups out.
pub fn overage(claims: &Map<String, Value>, groups_claim: &str) -> bool {
    if lookup(claims, groups_claim).is_some() {
        return false;
    }
    let named = claims.get("_claim_names").and_then(Value::as_object).is_some_and(|n| n.contains_key(groups_claim));
    named || claims.get("hasgroups") == Some(&Value::Bool(true))
}

/// Marks a session's groups as read at login from Microsoft Graph or userinfo, not from
/// the ID token. Only [`filled`] sets it: the claims kept from a token never hold it.
pub const FILLED: &str = "_oidc_gate_groups_filled";

/// Marks a session's groups as read at login from elsewhere than the ID token.
pub fn filled(claims: &mut Map<String, Value>) {
    claims.insert(FILLED.to_string(), Value::Bool(true));
}

/// Replaces the overage markers by the groups read elsewhere (Microsoft Graph).
pub fn resolve(claims: &mut Map<String, Value>, groups_claim: &str, groups: Vec<String>) {
    for m in MARKERS {
        claims.remove(m);
    }
    claims.insert(groups_claim.to_string(), Value::Array(groups.into_iter().map(Value::String).collect()));
    filled(claims);
}

/// A session's claims once a refresh merged `new` (its ID token's kept claims) into them,
/// which keeps the claims `new` lacks. Groups that the login's ID token named and the new
/// one does not (the user left every matching group, and Okta or Entra ID leave the claim
/// out; or an overage) are no longer vouched for by any token: they go, so that group rules
/// refuse (with [`REASON`] for an overage) until a new login. Groups read at login from
/// Graph or userinfo ([`filled`]) stay, like a login's other claims. Groups named in the new
/// token replace any.
pub fn after_refresh(claims: &mut Map<String, Value>, new: &Map<String, Value>, groups_claim: &str) {
    if lookup(new, groups_claim).is_some() {
        claims.remove(FILLED);
    } else if claims.get(FILLED) != Some(&Value::Bool(true)) {
        let name = read_name(claims, groups_claim).to_string();
        claims.remove(&name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn an_overage_is_told_from_having_no_groups() {
        let over = claims(
            json!({"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": "https://graph"}}}),
        );
        assert!(overage(&over, "groups"));
        assert!(overage(&claims(json!({"hasgroups": true})), "groups"));
        assert!(!overage(&claims(json!({})), "groups"), "no groups at all is no overage");
        assert!(!overage(&claims(json!({"hasgroups": false})), "groups"));
        assert!(!overage(&claims(json!({"_claim_names": {"roles": "src1"}})), "groups"), "another claim distributed");
        assert!(!overage(&claims(json!({"groups": [], "_claim_names": {"groups": "src1"}})), "groups"));
    }

    #[test]
    fn resolving_puts_the_groups_in_place_of_the_markers() {
        let mut c = claims(json!({"sub": "u", "_claim_names": {"groups": "src1"}, "hasgroups": true}));
        resolve(&mut c, "groups", vec!["g1".into(), "g2".into()]);
        assert_eq!(Value::Object(c), json!({"sub": "u", "groups": ["g1", "g2"], FILLED: true}));
    }

    #[test]
    fn a_refresh_keeps_only_groups_some_source_still_vouches_for() {
        let over = claims(json!({"_claim_names": {"groups": "src1"}}));
        let mut from_token = claims(json!({"groups": ["admins"], "_claim_names": {"groups": "src1"}}));
        after_refresh(&mut from_token, &over, "groups");
        assert_eq!(Value::Object(from_token), json!({"_claim_names": {"groups": "src1"}}));
        let mut from_graph = claims(json!({"groups": ["admins"], FILLED: true, "_claim_names": {"groups": "s"}}));
        after_refresh(&mut from_graph, &over, "groups");
        assert_eq!(from_graph.get("groups"), Some(&json!(["admins"])));
        let mut named = claims(json!({"groups": ["users"], FILLED: true}));
        after_refresh(&mut named, &claims(json!({"groups": ["users"]})), "groups");
        assert_eq!(Value::Object(named), json!({"groups": ["users"]}));
        let mut gone = claims(json!({"groups": ["admins"], "email": "a@x"}));
        after_refresh(&mut gone, &claims(json!({"email": "a@x"})), "groups");
        assert_eq!(Value::Object(gone), json!({"email": "a@x"}), "the new token names no groups");
    }
}
