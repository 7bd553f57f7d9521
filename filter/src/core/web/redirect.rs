//! Where a browser may be sent back to: a same-origin path, or a URL on an allow-listed
//! host. Never anywhere else (no open redirect).

use super::url::AbsoluteUrl;

/// `target` if it is safe to put in a `Location` header, else `/`.
pub fn safe_return(target: &str, allowed_hosts: &[String]) -> String {
    if is_local_path(target) {
        return target.to_string();
    }
    if let Ok(url) = AbsoluteUrl::parse(target) {
        if allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(&url.authority) || h.eq_ignore_ascii_case(&url.host)) {
            return url.as_string();
        }
    }
    "/".to_string()
}

/// A path on this origin: starts with one `/`, and nothing a browser could read as
/// another host (`//host`, `/\host`), nor control characters or spaces.
pub fn is_local_path(target: &str) -> bool {
    let bytes = target.as_bytes();
    bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/') | Some(b'\\'))
        && !bytes.iter().any(|&b| b == b'\\' || b <= b' ' || b == 0x7f)
        && target.len() <= 4096
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_and_allowed_hosts() {
        let allowed = vec!["app.example.com".to_string()];
        assert_eq!(safe_return("/some/page?x=1", &allowed), "/some/page?x=1");
        assert_eq!(safe_return("https://app.example.com/x", &allowed), "https://app.example.com/x");
        for evil in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\\/evil.example",
            "https://app.example.com.evil.example/",
            "https://user@evil.example",
            "javascript:alert(1)",
            "/\t/evil.example",
            "/ok\r\nSet-Cookie: x=y",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_return(evil, &allowed), "/", "{evil:?}");
        }
    }
}
