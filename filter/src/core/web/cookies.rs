//! Cookie headers: reading the request's `Cookie`, writing `Set-Cookie`, and removing
//! the filter's own cookies from what goes upstream.

/// The `name=value` pairs of a `Cookie` header, in order (RFC 6265 section 5.4).
pub fn parse(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(';').filter_map(|part| {
        let (name, value) = part.trim().split_once('=')?;
        let value = value.trim();
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        Some((name.trim(), value))
    })
}

/// The value of one cookie. When a name repeats, the first wins (browsers send the
/// most specific first).
pub fn get<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    parse(header).find(|(n, _)| *n == name).map(|(_, v)| v)
}

/// Attributes of the filter's cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieAttrs {
    pub secure: bool,
    pub same_site: &'static str,
}

/// A `Set-Cookie` value: HttpOnly, Path=/, SameSite, Secure (unless turned off for a
/// name without the `__Host-`/`__Secure-` prefix), and Max-Age when given.
pub fn set_cookie(name: &str, value: &str, max_age: Option<u64>, attrs: &CookieAttrs) -> String {
    let mut s = format!("{name}={value}; Path=/; HttpOnly; SameSite={}", attrs.same_site);
    if attrs.secure || name.starts_with("__Host-") || name.starts_with("__Secure-") {
        s.push_str("; Secure");
    }
    if let Some(age) = max_age {
        s.push_str(&format!("; Max-Age={age}"));
    }
    s
}

/// A `Set-Cookie` that deletes the cookie.
pub fn clear_cookie(name: &str, attrs: &CookieAttrs) -> String {
    format!("{}; Expires=Thu, 01 Jan 1970 00:00:00 GMT", set_cookie(name, "", Some(0), attrs))
}

/// The `Cookie` header without the cookies `ours` claims; `None` when nothing is left.
pub fn without(header: &str, ours: impl Fn(&str) -> bool) -> Option<String> {
    let kept: Vec<&str> = header
        .split(';')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .filter(|part| !ours(part.split_once('=').map_or(*part, |(n, _)| n.trim())))
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cookies() {
        let h = "a=1; __Host-s=xyz; b=\"q\";junk; a=2";
        assert_eq!(get(h, "a"), Some("1"));
        assert_eq!(get(h, "__Host-s"), Some("xyz"));
        assert_eq!(get(h, "b"), Some("q"));
        assert_eq!(get(h, "junk"), None);
        assert_eq!(get(h, "c"), None);
    }

    #[test]
    fn writes_safe_attributes() {
        let a = CookieAttrs { secure: true, same_site: "Lax" };
        assert_eq!(set_cookie("__Host-s", "v", None, &a), "__Host-s=v; Path=/; HttpOnly; SameSite=Lax; Secure");
        assert_eq!(set_cookie("f", "v", Some(600), &a), "f=v; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=600");
        let insecure = CookieAttrs { secure: false, same_site: "Lax" };
        assert_eq!(set_cookie("s", "v", None, &insecure), "s=v; Path=/; HttpOnly; SameSite=Lax");
        assert!(set_cookie("__Host-s", "v", None, &insecure).ends_with("; Secure"), "the prefix demands Secure");
        assert_eq!(
            clear_cookie("__Host-s", &a),
            "__Host-s=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[test]
    fn strips_only_our_cookies() {
        let ours = |n: &str| n.starts_with("__Host-oidc");
        assert_eq!(without("a=1; __Host-oidc_session=x; b=2", ours), Some("a=1; b=2".into()));
        assert_eq!(without("__Host-oidc_session_0=x;__Host-oidc_flow_abc=y", ours), None);
        assert_eq!(without("theme=dark", ours), Some("theme=dark".into()));
    }
}
