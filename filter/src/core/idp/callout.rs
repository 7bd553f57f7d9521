//! HTTP calls to the IdP. Discovery gives absolute URLs; a callout needs an Envoy
//! cluster, an `:authority` and a path.

use std::collections::BTreeMap;

use crate::core::web::AbsoluteUrl;

/// Where a callout to an absolute URL goes: the Envoy cluster and the request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalloutTarget {
    pub cluster: String,
    pub authority: String,
    pub path: String,
}

/// The default IdP cluster and a host→cluster map for IdPs on several hosts.
#[derive(Debug, Clone, Default)]
pub struct Clusters {
    pub default: String,
    /// Keyed by `host:port` or `host`, lower-case.
    pub by_host: BTreeMap<String, String>,
}

impl Clusters {
    pub fn target(&self, url: &AbsoluteUrl) -> CalloutTarget {
        let cluster =
            self.by_host.get(&url.authority).or_else(|| self.by_host.get(&url.host)).unwrap_or(&self.default).clone();
        CalloutTarget { cluster, authority: url.authority.clone(), path: url.path_and_query.clone() }
    }
}

/// An HTTP call the shell makes for the core. `Debug` shows no header values or body
/// (they carry codes, the client secret, tokens).
#[derive(Clone, PartialEq, Eq)]
pub struct Callout {
    pub target: CalloutTarget,
    pub method: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
}

impl Callout {
    /// A GET with `Accept: application/json` and these headers.
    pub fn get(target: CalloutTarget, mut headers: Vec<(&'static str, String)>) -> Callout {
        headers.push(("accept", "application/json".to_string()));
        Callout { target, method: "GET", headers, body: None }
    }

    /// A form POST expecting JSON.
    pub fn post_form(target: CalloutTarget, mut headers: Vec<(&'static str, String)>, body: String) -> Callout {
        headers.push(("content-type", "application/x-www-form-urlencoded".to_string()));
        headers.push(("accept", "application/json".to_string()));
        Callout { target, method: "POST", headers, body: Some(body) }
    }
}

impl std::fmt::Debug for Callout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        write!(f, "Callout {{ {} {:?}, headers: {names:?}, body: [redacted] }}", self.method, self.target)
    }
}
