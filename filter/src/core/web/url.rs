//! The small, strict subset of URLs the filter needs: absolute `http`/`https` URLs
//! from config and discovery, split into what a callout needs.

/// An absolute URL: `scheme://authority/path?query`, without user info or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsoluteUrl {
    pub scheme: String,
    /// `host` or `host:port`, lower-cased, as sent in `:authority`.
    pub authority: String,
    /// The host alone (brackets kept for IPv6 literals).
    pub host: String,
    /// Path and query, at least `/`.
    pub path_and_query: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    NotAbsolute,
    Scheme,
    Authority,
    Characters,
    Fragment,
}

impl std::fmt::Display for UrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UrlError::NotAbsolute => "must be an absolute URL like https://host/path",
            UrlError::Scheme => "scheme must be http or https",
            UrlError::Authority => "has an empty or invalid host, or user info",
            UrlError::Characters => "contains spaces or control characters",
            UrlError::Fragment => "must not have a #fragment",
        })
    }
}

impl AbsoluteUrl {
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        if text.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(UrlError::Characters);
        }
        if text.contains('#') {
            return Err(UrlError::Fragment);
        }
        let (scheme, rest) = text.split_once("://").ok_or(UrlError::NotAbsolute)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(UrlError::Scheme);
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() || authority.contains('@') || authority.contains('\\') {
            return Err(UrlError::Authority);
        }
        let authority = authority.to_ascii_lowercase();
        let host = split_host(&authority).ok_or(UrlError::Authority)?.to_string();
        let path_and_query = if path.is_empty() {
            "/".to_string()
        } else if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        Ok(AbsoluteUrl { scheme, authority, host, path_and_query })
    }

    /// A URL from config or discovery: [`AbsoluteUrl::parse`], and the WHATWG URL parser
    /// (the `url` crate) must read the same host and port from it. A host that parsers
    /// read differently (`0x7f.1` is 127.0.0.1 to a browser) could make a callout or a
    /// redirect go elsewhere than the config's author meant: it is refused. Only config
    /// and discovery documents come here, never a request.
    pub fn parse_config(text: &str) -> Result<Self, UrlError> {
        let ours = Self::parse(text)?;
        let whatwg = url::Url::parse(text).map_err(|_| UrlError::Authority)?;
        let default_port = if ours.scheme == "https" { 443 } else { 80 };
        let port = match ours.authority.get(ours.host.len()..).and_then(|p| p.strip_prefix(':')) {
            Some(p) => p.parse::<u16>().map_err(|_| UrlError::Authority)?,
            None => default_port,
        };
        if whatwg.host_str() != Some(ours.host.as_str()) || whatwg.port_or_known_default() != Some(port) {
            return Err(UrlError::Authority);
        }
        Ok(ours)
    }

    /// The URL as text.
    pub fn as_string(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority, self.path_and_query)
    }
}

/// Returns the host part of `host[:port]`, validating the port.
fn split_host(authority: &str) -> Option<&str> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = authority.get(..end + 2)?;
        let after = rest.get(end + 1..)?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    if !host.starts_with('[') && !host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    {
        return None;
    }
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse::<u16>().ok()?;
    }
    Some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_what_a_callout_needs() {
        let u = AbsoluteUrl::parse("https://IdP.example.com:8443/realms/x/.well-known/jwks?a=1").unwrap();
        assert_eq!(u.scheme, "https");
        assert_eq!(u.authority, "idp.example.com:8443");
        assert_eq!(u.host, "idp.example.com");
        assert_eq!(u.path_and_query, "/realms/x/.well-known/jwks?a=1");
        let bare = AbsoluteUrl::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!(bare.path_and_query, "/");
        assert_eq!(bare.as_string(), "http://127.0.0.1:9000/");
        let v6 = AbsoluteUrl::parse("http://[::1]:80/x").unwrap();
        assert_eq!(v6.host, "[::1]");
    }

    #[test]
    fn config_urls_must_read_the_same_to_the_whatwg_parser() {
        let ok = AbsoluteUrl::parse_config("https://IdP.example.com:8443/realms/x?a=1").unwrap();
        assert_eq!(ok, AbsoluteUrl::parse("https://IdP.example.com:8443/realms/x?a=1").unwrap());
        assert!(AbsoluteUrl::parse_config("http://[::1]:80/x").is_ok());
        assert!(AbsoluteUrl::parse_config("https://xn--caf-dma.example/").is_ok());
        for text in ["http://0x7f.1/", "http://127.1/", "http://2130706433/", "http://[0:0::1]/", "https://host:443x/"]
        {
            assert_eq!(AbsoluteUrl::parse_config(text), Err(UrlError::Authority), "{text}");
        }
        // Per-request parsing is unchanged.
        assert!(AbsoluteUrl::parse("http://127.1/").is_ok());
    }

    #[test]
    fn rejects_what_is_not_a_plain_absolute_url() {
        let cases = [
            ("/relative", UrlError::NotAbsolute),
            ("ftp://x/", UrlError::Scheme),
            ("https://user@host/", UrlError::Authority),
            ("https:///path", UrlError::Authority),
            ("https://host:99999/", UrlError::Authority),
            ("https://host:/", UrlError::Authority),
            ("https://ho st/", UrlError::Characters),
            ("https://host/#frag", UrlError::Fragment),
            ("https://host\\evil/", UrlError::Authority),
        ];
        for (text, want) in cases {
            assert_eq!(AbsoluteUrl::parse(text), Err(want), "{text}");
        }
    }
}
