//! Local responses: every answer the filter gives instead of the upstream is built here
//! (redirects, pages, JSON errors), so their headers are set in one place.

/// A response sent by the filter itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    pub status: u32,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// Pages show no scripts, frames or outside resources.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'";
/// A page with a form that posts back to this origin.
pub const FORM_PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";

impl LocalResponse {
    /// A 302 to `location`, never stored by a cache, with these `Set-Cookie`s.
    pub fn redirect(location: String, set_cookies: Vec<String>) -> Self {
        let mut headers = vec![("location", location), ("cache-control", "no-store".to_string())];
        headers.extend(set_cookies.into_iter().map(|c| ("set-cookie", c)));
        LocalResponse { status: 302, headers, body: String::new() }
    }

    /// An HTML page: never cached, never framed, no scripts.
    pub fn html(status: u32, body: String, csp: &'static str) -> Self {
        let headers = vec![
            ("content-type", "text/html; charset=utf-8".to_string()),
            ("cache-control", "no-store".to_string()),
            ("content-security-policy", csp.to_string()),
            ("x-content-type-options", "nosniff".to_string()),
            ("x-frame-options", "DENY".to_string()),
        ];
        LocalResponse { status, headers, body }
    }

    /// A JSON error body `{"error", "error_description"}` (RFC 6749/6750 shape) and
    /// `extra` headers such as `WWW-Authenticate`.
    pub fn json_error(status: u32, error: &str, description: &str, extra: Vec<(&'static str, String)>) -> Self {
        let mut headers =
            vec![("content-type", "application/json".to_string()), ("cache-control", "no-store".to_string())];
        headers.extend(extra);
        let body = serde_json::json!({"error": error, "error_description": description}).to_string();
        LocalResponse { status, headers, body }
    }

    /// A JSON document (metadata), cacheable for an hour.
    pub fn json(status: u32, body: String) -> Self {
        let headers = vec![
            ("content-type", "application/json".to_string()),
            ("cache-control", "public, max-age=3600".to_string()),
        ];
        LocalResponse { status, headers, body }
    }

    /// An answer without a body, never stored by a cache.
    pub fn empty(status: u32) -> Self {
        LocalResponse { status, headers: vec![("cache-control", "no-store".to_string())], body: String::new() }
    }

    /// A short plain-text answer.
    pub fn plain(status: u32, text: &str) -> Self {
        let headers = vec![("content-type", "text/plain".to_string()), ("cache-control", "no-store".to_string())];
        LocalResponse { status, headers, body: format!("{text}\n") }
    }

    /// Adds `Set-Cookie` headers.
    pub fn with_cookies(mut self, set_cookies: impl IntoIterator<Item = String>) -> Self {
        self.headers.extend(set_cookies.into_iter().map(|c| ("set-cookie", c)));
        self
    }

    /// The first value of a header (tests and logs).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_never_cached() {
        let all = [
            LocalResponse::redirect("/".into(), vec!["a=b".into()]),
            LocalResponse::html(400, "<p>x</p>".into(), PAGE_CSP),
            LocalResponse::json_error(401, "e", "d", vec![]),
            LocalResponse::plain(400, "bad"),
        ];
        for r in &all {
            assert_eq!(r.header("cache-control"), Some("no-store"), "{r:?}");
        }
        assert_eq!(all[0].header("set-cookie"), Some("a=b"));
        assert_eq!(all[2].body, r#"{"error":"e","error_description":"d"}"#);
    }
}
