//! The names of the filter's cookies, in one place: the session (`<name>`), its numbered
//! chunks (`<name>_0`, `<name>_1`, …) and login flows (`<name>_flow_<id>`). Anything
//! else named `<name>_…` is also the filter's and never goes upstream.

use std::fmt;

use crate::core::web::cookies;

/// Characters of a login's `state` in its flow cookie's name.
pub const FLOW_ID_LEN: usize = 16;
/// The most of its own cookies the filter names in clearing `Set-Cookie`s for one
/// request: a session in its most chunks and a few flows fit; a `Cookie` header stuffed
/// with a thousand look-alikes does not make a thousand response headers.
pub const MAX_OWN_COOKIES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieNames {
    session: String,
    /// `<session>_flow_`.
    flow_prefix: String,
}

/// A `session.cookie_name` that cannot be a cookie name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieNameError;

impl fmt::Display for CookieNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("use up to 64 letters, digits, '-', '_' or '.'")
    }
}

impl Default for CookieNames {
    fn default() -> Self {
        CookieNames::unchecked(crate::core::config::defaults::COOKIE_NAME)
    }
}

impl CookieNames {
    pub fn new(session: &str) -> Result<CookieNames, CookieNameError> {
        let ok = !session.is_empty()
            && session.len() <= 64
            && session.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        ok.then(|| CookieNames::unchecked(session)).ok_or(CookieNameError)
    }

    fn unchecked(session: &str) -> CookieNames {
        CookieNames { session: session.to_string(), flow_prefix: format!("{session}_flow_") }
    }

    /// The session cookie's name (unchunked).
    pub fn session(&self) -> &str {
        &self.session
    }

    /// The name of chunk `i`.
    pub fn chunk(&self, i: usize) -> String {
        format!("{}_{i}", self.session)
    }

    /// The flow cookie for a login whose `state` starts with `id`.
    pub fn flow(&self, id: &str) -> String {
        format!("{}{id}", self.flow_prefix)
    }

    /// Whether a cookie name is in the filter's namespace (`<name>` or `<name>_…`):
    /// such cookies never go upstream.
    pub fn owns(&self, name: &str) -> bool {
        name.strip_prefix(self.session.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
    }

    /// The session cookie or one of its numbered chunks, exactly.
    pub fn is_session(&self, name: &str) -> bool {
        name.strip_prefix(self.session.as_str()).is_some_and(|rest| {
            rest.is_empty()
                || rest.strip_prefix('_').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
    }

    /// A login flow cookie, exactly: the flow prefix and [`FLOW_ID_LEN`] base64url characters.
    pub fn is_flow(&self, name: &str) -> bool {
        name.strip_prefix(self.flow_prefix.as_str()).is_some_and(|id| {
            id.len() == FLOW_ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    }

    /// The session and flow cookies a `Cookie` header carries, by their exact shapes (only
    /// these are ever echoed into a clearing `Set-Cookie`), at most [`MAX_OWN_COOKIES`].
    pub fn ours_in<'h>(&self, cookie_header: Option<&'h str>) -> Vec<&'h str> {
        self.names_in(cookie_header, |n| self.is_session(n) || self.is_flow(n))
    }

    /// The session cookies (whole or chunks) a `Cookie` header carries, at most
    /// [`MAX_OWN_COOKIES`].
    pub fn sessions_in<'h>(&self, cookie_header: Option<&'h str>) -> Vec<&'h str> {
        self.names_in(cookie_header, |n| self.is_session(n))
    }

    fn names_in<'h>(&self, cookie_header: Option<&'h str>, pick: impl Fn(&str) -> bool) -> Vec<&'h str> {
        let mut names: Vec<&str> = Vec::new();
        for (name, _) in cookie_header.map(cookies::parse).into_iter().flatten() {
            if pick(name) && !names.contains(&name) {
                names.push(name);
                if names.len() == MAX_OWN_COOKIES {
                    break;
                }
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_shapes_only() {
        let n = CookieNames::new("__Host-oidc_session").unwrap();
        let header = "__Host-oidc_session=a; __Host-oidc_session_0=b; __Host-oidc_session_x=c; \
            __Host-oidc_session_flow_ABCDEFGHijklmnop=d; __Host-oidc_session_flow_short=e; __Host-oidc_sessionx=f; app=g";
        assert_eq!(
            n.ours_in(Some(header)),
            vec!["__Host-oidc_session", "__Host-oidc_session_0", "__Host-oidc_session_flow_ABCDEFGHijklmnop"]
        );
        assert_eq!(n.sessions_in(Some(header)), vec!["__Host-oidc_session", "__Host-oidc_session_0"]);
        assert!(n.owns("__Host-oidc_session_x") && n.owns("__Host-oidc_session") && !n.owns("__Host-oidc_sessionx"));
        assert_eq!(n.chunk(2), "__Host-oidc_session_2");
        assert_eq!(n.flow("abc"), "__Host-oidc_session_flow_abc");
        let stuffed: Vec<String> = (0..1000).map(|i| format!("__Host-oidc_session_{i}=x")).collect();
        assert_eq!(n.ours_in(Some(&stuffed.join("; "))).len(), MAX_OWN_COOKIES);
        assert_eq!(n.sessions_in(Some("__Host-oidc_session=a; __Host-oidc_session=b")), vec!["__Host-oidc_session"]);
        assert_eq!(CookieNames::new("bad name"), Err(CookieNameError));
        assert_eq!(CookieNames::new(&"a".repeat(65)), Err(CookieNameError));
    }
}
