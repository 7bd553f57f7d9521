//! The request as the gate reads it: headers fetched from the host only when a step
//! needs them, the path and the `Cookie` header read once.

use crate::core::web::{path_only, Origin};

/// Reads request headers on demand, so the hot path asks the host only for what it uses.
pub trait RequestHeaders {
    fn get(&mut self, name: &str) -> Option<String>;
}

pub struct Request<'h> {
    headers: &'h mut dyn RequestHeaders,
    /// `:path` as sent, query included.
    pub path_and_query: String,
    /// The `Cookie` header; read only when login is on (bearer-only configs never need it).
    pub cookie: Option<String>,
}

impl<'h> Request<'h> {
    pub fn read(headers: &'h mut dyn RequestHeaders, with_cookie: bool) -> Self {
        let path_and_query = headers.get(":path").unwrap_or_default();
        let cookie = if with_cookie { headers.get("cookie") } else { None };
        Request { headers, path_and_query, cookie }
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

/// Extracts the token from `Authorization: Bearer <token>` (scheme case-insensitive).
pub fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(rest.trim_start())
}
