//! The request's own origin (`:scheme` and `:authority`), for the `redirect_uri` and the
//! logout return URL.

/// A request's scheme and authority. The authority is plain `host[:port]`, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: &'static str,
    pub authority: String,
}

impl Origin {
    /// `None` when the authority holds anything but host and port characters: it is
    /// echoed into URLs the browser follows.
    pub fn from_request(scheme: Option<&str>, authority: Option<&str>) -> Option<Origin> {
        let authority = authority.filter(|a| plain_authority(a))?;
        let scheme = if scheme == Some("https") { "https" } else { "http" };
        Some(Origin { scheme, authority: authority.to_ascii_lowercase() })
    }
}

fn plain_authority(a: &str) -> bool {
    !a.is_empty() && a.len() <= 255 && a.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_authorities() {
        let o = Origin::from_request(Some("https"), Some("App.Example.com:8443")).unwrap();
        assert_eq!((o.scheme, o.authority.as_str()), ("https", "app.example.com:8443"));
        assert_eq!(Origin::from_request(None, Some("a.example")).unwrap().scheme, "http");
        for bad in ["", "evil.example/path", "a@b", "a b", "x\"y", &"a".repeat(256)] {
            assert_eq!(Origin::from_request(Some("https"), Some(bad)), None, "{bad:?}");
        }
        assert_eq!(Origin::from_request(Some("https"), None), None);
    }
}
