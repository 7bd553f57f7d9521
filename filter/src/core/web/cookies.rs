//! Cookie headers: reading the request's `Cookie`, writing `Set-Cookie`, and removing
//! the filter's own cookies from what goes upstream. Split eight bytes at a time
//! ([`bytes::split`]): a session request's `Cookie` is often 3 KB or more.

use crate::core::bytes;

/// The `name=value` pairs of a `Cookie` header, in order (RFC 6265 section 5.4).
/// Whitespace around names and values is ASCII (a `Cookie` header may hold only spaces
/// and tabs there, RFC 9110 OWS; Envoy refuses other control characters).
pub fn parse(header: &str) -> impl Iterator<Item = (&str, &str)> {
    bytes::split(header, b';').filter_map(|part| {
        let (name, value) = bytes::split_once(part, b'=')?;
        let value = ows(value);
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        Some((ows(name), value))
    })
}

/// `s` without leading and trailing ASCII whitespace.
fn ows(s: &str) -> &str {
    s.trim_ascii()
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

/// What is left of a `Cookie` header without the cookies the filter owns.
#[derive(Debug, PartialEq, Eq)]
pub enum Without {
    /// It held none of them: as it is.
    Unchanged,
    /// The other cookies.
    Rest(String),
    /// Nothing else.
    Nothing,
}

/// The `Cookie` header without the cookies `ours` claims, in one pass (the header is
/// rebuilt only when it held some).
pub fn without(header: &str, ours: impl Fn(&str) -> bool) -> Without {
    split(header, ours, None).rest
}

/// One pass over a `Cookie` header: [`without`], and where the value of the first cookie
/// named `named` is (as [`get`] reads it), as a byte range of `header`.
pub struct Split {
    pub rest: Without,
    pub named: Option<std::ops::Range<usize>>,
}

pub fn split(header: &str, ours: impl Fn(&str) -> bool, named: Option<&str>) -> Split {
    // The other cookies, on the stack for up to 32 of them: a request with none of ours
    // allocates nothing, one with ours only the header it sends upstream.
    let mut kept: smallvec::SmallVec<[&str; 32]> = smallvec::SmallVec::new();
    let mut dropped = false;
    let mut found = None;
    for raw in bytes::split(header, b';') {
        let part = ows(raw);
        if part.is_empty() {
            continue;
        }
        let pair = bytes::split_once(raw, b'=');
        if let (None, Some((name, value)), Some(want)) = (&found, pair, named) {
            if ows(name) == want {
                let value = ows(value);
                let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
                // `value` is a slice of `header`: its offset there.
                let at = value.as_ptr() as usize - header.as_ptr() as usize;
                found = Some(at..at + value.len());
            }
        }
        if ours(pair.map_or(part, |(n, _)| ows(n))) {
            dropped = true;
        } else {
            kept.push(part);
        }
    }
    let rest = match (dropped, kept.is_empty()) {
        (false, _) => Without::Unchanged,
        (true, true) => Without::Nothing,
        (true, false) => Without::Rest(kept.join("; ")),
    };
    Split { rest, named: found }
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
    fn one_pass_finds_what_get_and_without_find() {
        let ours = |n: &str| n.starts_with("__Host-oidc");
        for h in [
            "a=1; __Host-oidc_session=x; b=2",
            "__Host-oidc_session=\"q\" ;x=1; __Host-oidc_session=second",
            "  __Host-oidc_session =  v  ;",
            "junk; __Host-oidc_session",
            "a=1",
            "",
            ";;",
            "a=\"",
            "__Host-oidc_session=",
        ] {
            let s = split(h, ours, Some("__Host-oidc_session"));
            assert_eq!(s.named.map(|r| &h[r]), get(h, "__Host-oidc_session"), "{h:?}");
            assert_eq!(s.rest, without(h, ours), "{h:?}");
        }
    }

    #[test]
    fn strips_only_our_cookies() {
        let ours = |n: &str| n.starts_with("__Host-oidc");
        assert_eq!(without("a=1; __Host-oidc_session=x; b=2", ours), Without::Rest("a=1; b=2".into()));
        assert_eq!(without("a=1;\t__Host-oidc_session=x", ours), Without::Rest("a=1".into()));
        assert_eq!(without("__Host-oidc_session_0=x;__Host-oidc_flow_abc=y", ours), Without::Nothing);
        assert_eq!(without("theme=dark", ours), Without::Unchanged);
        assert_eq!(without("theme=dark;;  ", ours), Without::Unchanged);
    }
}
