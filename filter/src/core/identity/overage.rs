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

/// Marks a session's groups as read from Microsoft Graph at login (no token names them).
/// Only [`resolve`] sets it: the claims kept from a token or userinfo never hold it.
pub const FROM_GRAPH: &str = "_oidc_gate_groups_from_graph";

/// Replaces the overage markers by the groups read elsewhere (Microsoft Graph).
pub fn resolve(claims: &mut Map<String, Value>, groups_claim: &str, groups: Vec<String>) {
    for m in MARKERS {
        claims.remove(m);
    }
    claims.insert(groups_claim.to_string(), Value::Array(groups.into_iter().map(Value::String).collect()));
    claims.insert(FROM_GRAPH.to_string(), Value::Bool(true));
}

/// A session's claims once a refresh merged `new` (its ID token's kept claims) into them,
/// which keeps the claims `new` lacks. Groups that the new token leaves out by an overage
/// are no longer vouched for by any token: unless Microsoft Graph read them at login (they
/// stay, like any login's claims), they go, so that group rules refuse with [`REASON`]
/// (a new login reads them). Groups named in the new token replace any from Graph.
pub fn after_refresh(claims: &mut Map<String, Value>, new: &Map<String, Value>, groups_claim: &str) {
    if lookup(new, groups_claim).is_some() {
        claims.remove(FROM_GRAPH);
    } else if overage(new, groups_claim) && claims.get(FROM_GRAPH) != Some(&Value::Bool(true)) {
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
        assert_eq!(Value::Object(c), json!({"sub": "u", "groups": ["g1", "g2"], FROM_GRAPH: true}));
    }

    #[test]
    fn a_refresh_keeps_only_groups_some_source_still_vouches_for() {
        let over = claims(json!({"_claim_names": {"groups": "src1"}}));
        let mut from_token = claims(json!({"groups": ["admins"], "_claim_names": {"groups": "src1"}}));
        after_refresh(&mut from_token, &over, "groups");
        assert_eq!(Value::Object(from_token), json!({"_claim_names": {"groups": "src1"}}));
        let mut from_graph = claims(json!({"groups": ["admins"], FROM_GRAPH: true, "_claim_names": {"groups": "s"}}));
        after_refresh(&mut from_graph, &over, "groups");
        assert_eq!(from_graph.get("groups"), Some(&json!(["admins"])));
        let mut named = claims(json!({"groups": ["users"], FROM_GRAPH: true}));
        after_refresh(&mut named, &claims(json!({"groups": ["users"]})), "groups");
        assert_eq!(Value::Object(named), json!({"groups": ["users"]}));
    }
}
