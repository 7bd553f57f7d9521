//! OAuth 2.0 Protected Resource Metadata (RFC 9728): a document at
//! `/.well-known/oauth-protected-resource` that tells clients (CLIs, agents, MCP clients)
//! which authorization servers issue tokens for this resource, and a pointer to it in
//! every 401's `WWW-Authenticate`.

use crate::core::config::errors::Errors;
use crate::core::config::raw::RawResourceMetadata;
use crate::core::web::{AbsoluteUrl, LocalResponse};

const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

#[derive(Debug, Clone)]
pub struct ResourceMetadata {
    /// Paths the document is served at: the well-known path, and with the resource's
    /// own path appended when it has one (RFC 9728 section 3.1).
    paths: Vec<String>,
    /// The document's URL, for `WWW-Authenticate: Bearer resource_metadata="…"`.
    pub url: String,
    document: String,
}

impl ResourceMetadata {
    pub fn compile(raw: &RawResourceMetadata, issuers: &[&str], errors: &mut Errors) -> Option<ResourceMetadata> {
        let url = match AbsoluteUrl::parse_config(&raw.resource) {
            Ok(u) if !u.path_and_query.contains('?') => u,
            _ => {
                errors.push("resource_metadata.resource", "must be an absolute http(s) URL without query or fragment");
                return None;
            }
        };
        for (n, scope) in raw.scopes_supported.iter().enumerate() {
            if scope.is_empty() || scope.bytes().any(|b| b <= b' ' || b == b'"' || b == b'\\') {
                errors.push(
                    format!("resource_metadata.scopes_supported[{n}]"),
                    "scope names are non-empty, without spaces or quotes",
                );
            }
        }
        let suffix = url.path_and_query.trim_end_matches('/');
        let mut paths = vec![WELL_KNOWN.to_string()];
        if !suffix.is_empty() {
            paths.push(format!("{WELL_KNOWN}{suffix}"));
        }
        let document = serde_json::json!({
            "resource": raw.resource,
            "authorization_servers": issuers,
            "scopes_supported": raw.scopes_supported,
            "bearer_methods_supported": ["header"],
        })
        .to_string();
        let url = format!("{}://{}{}", url.scheme, url.authority, paths.last().map_or(WELL_KNOWN, String::as_str));
        Some(ResourceMetadata { paths, url, document })
    }

    /// The document, when `path` is where it is served.
    pub fn serve(&self, path: &str) -> Option<LocalResponse> {
        self.paths.iter().any(|p| p == path).then(|| LocalResponse::json(200, self.document.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn compile(resource: &str) -> Result<ResourceMetadata, Vec<String>> {
        let raw: RawResourceMetadata =
            serde_json::from_value(json!({"resource": resource, "scopes_supported": ["api:read"]})).unwrap();
        let mut errors = Errors::default();
        let m = ResourceMetadata::compile(&raw, &["https://idp.example.com", "https://other.example.com"], &mut errors);
        errors
            .finish(m.unwrap_or_else(|| compile("https://x").unwrap()))
            .map_err(|e| e.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn served_at_the_well_known_path_and_its_path_suffixed_form() {
        let m = compile("https://api.example.com/orders").unwrap();
        assert_eq!(m.url, "https://api.example.com/.well-known/oauth-protected-resource/orders");
        for path in ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/orders"] {
            let r = m.serve(path).unwrap();
            let doc: Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(doc["resource"], "https://api.example.com/orders");
            assert_eq!(doc["authorization_servers"], json!(["https://idp.example.com", "https://other.example.com"]));
            assert_eq!(doc["scopes_supported"], json!(["api:read"]));
            assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
            assert_eq!(r.header("content-type"), Some("application/json"));
        }
        assert!(m.serve("/.well-known/oauth-protected-resource/other").is_none());
        let root = compile("https://api.example.com").unwrap();
        assert_eq!(root.url, "https://api.example.com/.well-known/oauth-protected-resource");
        assert_eq!(
            compile("api.example.com").unwrap_err(),
            vec!["resource_metadata.resource: must be an absolute http(s) URL without query or fragment"]
        );
    }
}
