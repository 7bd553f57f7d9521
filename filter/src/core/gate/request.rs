//! The request as the gate reads it: headers fetched from the host only when a step
//! needs them, the path and the `Cookie` header read once.

use crate::core::session::CookieNames;
use crate::core::web::{cookies, path_only, Origin};

/// Reads request headers on demand, so the hot path asks the host only for what it uses.
pub trait RequestHeaders {
    fn get(&mut self, name: &str) -> Option<String>;

    /// Whether a body may follow the headers (`false`: the request ended with them). When
    /// unknown, one may.
    fn body_follows(&self) -> bool {
        true
    }
}

pub struct Request<'h> {
    headers: &'h mut dyn RequestHeaders,
    /// `:path` as sent, query included.
    pub path_and_query: String,
    /// The `Cookie` header; read only when login is on (bearer-only configs never need it).
    cookie: Option<String>,
    /// The `Cookie` header split once: without the filter's cookies, and where the
    /// session cookie is (made when first asked for).
    split: std::cell::OnceCell<cookies::Split>,
}

impl<'h> Request<'h> {
    pub fn read(headers: &'h mut dyn RequestHeaders, with_cookie: bool) -> Self {
        let path_and_query = headers.get(":path").unwrap_or_default();
        let cookie = if with_cookie { headers.get("cookie") } else { None };
        Request { headers, path_and_query, cookie, split: std::cell::OnceCell::new() }
    }

    /// The `Cookie` header (`None` without login, or when the request has none).
    pub fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    /// From here on the request is taken to have no cookies (its session just ended).
    pub fn forget_cookie(&mut self) {
        self.cookie = None;
        self.split = std::cell::OnceCell::new();
    }

    /// The `Cookie` header split by the filter's cookie names, in one pass shared by the
    /// session step and what goes upstream.
    pub fn cookie_split(&self, names: &CookieNames) -> Option<&cookies::Split> {
        let header = self.cookie.as_deref()?;
        Some(self.split.get_or_init(|| cookies::split(header, |n| names.owns(n), Some(names.session()))))
    }

    /// The `Cookie` header as it goes upstream (from [`Self::cookie_split`], taken out of
    /// it: the request's last use of its cookies).
    pub fn take_upstream_cookie(&mut self, names: &CookieNames) -> Option<cookies::Without> {
        self.cookie_split(names)?;
        self.split.take().map(|s| s.rest)
    }

    /// The unchunked session cookie's value, from [`Self::cookie_split`].
    pub fn session_cookie(&self, names: &CookieNames) -> Option<&str> {
        let range = self.cookie_split(names)?.named.clone()?;
        self.cookie.as_deref()?.get(range)
    }

    /// The path without its query.
    pub fn path(&self) -> &str {
        path_only(&self.path_and_query)
    }

    /// The query string, without `?`.
    pub fn query(&self) -> &str {
        self.path_and_query.split_once('?').map_or("", |(_, q)| q)
    }

    pub fn header(&mut self, name: &str) -> Option<String> {
        self.headers.get(name)
    }

    /// Whether a body may follow the headers.
    pub fn body_follows(&self) -> bool {
        self.headers.body_follows()
    }

    /// `:scheme` and `:authority`, when the authority is plain host[:port].
    pub fn origin(&mut self) -> Option<Origin> {
        let authority = self.headers.get(":authority");
        let scheme = self.headers.get(":scheme");
        Origin::from_request(scheme.as_deref(), authority.as_deref())
    }

    /// A gRPC call (`content-type: application/grpc…`).
    pub fn is_grpc(&mut self) -> bool {
        self.headers.get("content-type").is_some_and(|c| c.starts_with("application/grpc"))
    }
}

/// A header besides `Authorization` that may carry a bearer token (`bearer.token_headers`):
/// as `Bearer <token>`, or, when `raw`, the bare token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHeader {
    pub name: String,
    pub raw: bool,
}

/// A bearer token as the request carries it: the header value and where the token starts.
pub struct Token {
    value: String,
    start: usize,
}

impl Token {
    pub fn as_str(&self) -> &str {
        self.value.get(self.start..).unwrap_or("").trim_end_matches([' ', '\t'])
    }
}

impl Request<'_> {
    /// The bearer token: from `Authorization: Bearer`, else from the first configured token
    /// header that has one. `Authorization` wins even when its token turns out invalid.
    pub fn token(&mut self, token_headers: &[TokenHeader]) -> Option<Token> {
        if let Some(value) = self.header("authorization") {
            // `Authorization` sent more than once reaches the filter as one value joined by
            // `,`: with a `Bearer` after a `,` (never so in a Digest or Basic credential) it
            // is checked whole, so refused, never passed beside a session for an app that
            // reads the second line.
            let hidden = crate::core::bytes::split(&value, b',').skip(1).any(|part| bearer_token(Some(part)).is_some());
            if hidden {
                return Some(Token { value, start: 0 });
            }
            if let Some(t) = Token::bearer(value) {
                return Some(t);
            }
        }
        for h in token_headers {
            let Some(value) = self.header(&h.name) else { continue };
            // A `,`: the header came more than once (the host joins its values with one) and
            // no token has one. Checked as the token it is not, so refused: never skipped
            // while an app reads an unchecked `Bearer` from its second line.
            let token = if h.raw || value.contains(',') {
                let start = value.len() - value.trim_start().len();
                Some(Token { value, start })
            } else {
                Token::bearer(value)
            };
            if let Some(t) = token.filter(|t| !t.as_str().is_empty()) {
                return Some(t);
            }
        }
        None
    }
}

impl Token {
    fn bearer(value: String) -> Option<Token> {
        let token = bearer_token(Some(&value))?;
        // `token` is a slice of `value`: its offset there.
        let start = token.as_ptr() as usize - value.as_ptr() as usize;
        Some(Token { value, start })
    }
}

/// Extracts the token from `Authorization: Bearer <token>` (scheme case-insensitive; the
/// scheme ends at a space or a tab, as apps that split on any whitespace read it too).
pub fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?.trim_matches([' ', '\t']);
    let (scheme, rest) = value.split_once([' ', '\t'])?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(rest.trim_start_matches([' ', '\t']))
}
