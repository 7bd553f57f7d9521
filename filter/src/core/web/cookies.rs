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
    // The other cookies as runs of `header` (start, end): consecutive ones the header already
    // writes `a; b` are one run, copied whole. Up to 32 runs on the stack: a request with none
    // of ours allocates nothing (its header goes on unchanged); one with ours, only the header
    // sent upstream, built from a run or two rather than from each cookie (as joining took).
    let mut runs: smallvec::SmallVec<[(usize, usize); 32]> = smallvec::SmallVec::new();
    let mut dropped = false;
    let mut found = None;
    for raw in bytes::split(header, b';') {
        let part = ows(raw);
        if part.is_empty() {
            continue;
        }
        let pair = bytes::split_once(raw, b'=');
        let name = pair.map_or(part, |(n, _)| ows(n));
        if let (None, Some((_, value)), Some(want)) = (&found, pair, named) {
            if name == want {
                let value = ows(value);
                let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
                found = Some(offset(header, value)..offset(header, value) + value.len());
            }
        }
        if ours(name) {
            dropped = true;
            continue;
        }
        let (start, end) = (offset(header, part), offset(header, part) + part.len());
        match runs.last_mut() {
            Some((_, run_end)) if header.as_bytes().get(*run_end..start) == Some(b"; ") => *run_end = end,
            _ => runs.push((start, end)),
        }
    }
    let rest = match (dropped, runs.as_slice()) {
        (false, _) => Without::Unchanged,
        (true, []) => Without::Nothing,
        (true, runs) => {
            let len = runs.iter().map(|(s, e)| e - s).sum::<usize>() + 2 * (runs.len() - 1);
            let mut out = String::with_capacity(len);
            for (i, (s, e)) in runs.iter().enumerate() {
                if i > 0 {
                    out.push_str("; ");
                }
                out.push_str(header.get(*s..*e).unwrap_or_default());
            }
            Without::Rest(out)
        }
    };
    Split { rest, named: found }
}

/// Where `part`, a slice of `header`, starts in it.
fn offset(header: &str, part: &str) -> usize {
    part.as_ptr() as usize - header.as_ptr() as usize
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

    /// The header sent upstream is the kept cookies joined by `; `, exactly, however the
    /// header spaces them (runs copied whole are only a faster way to write it).
    #[test]
    fn rest_is_the_kept_cookies_joined() {
        fn reference(header: &str, ours: impl Fn(&str) -> bool) -> Without {
            let mut kept = Vec::new();
            let mut dropped = false;
            for raw in header.split(';') {
                let part = raw.trim_ascii();
                if part.is_empty() {
                    continue;
                }
                let name = raw.split_once('=').map_or(part, |(n, _)| n.trim_ascii());
                if ours(name) {
                    dropped = true;
                } else {
                    kept.push(part);
                }
            }
            match (dropped, kept.is_empty()) {
                (false, _) => Without::Unchanged,
                (true, true) => Without::Nothing,
                (true, false) => Without::Rest(kept.join("; ")),
            }
        }
        let ours = |n: &str| n.starts_with("__Host-oidc");
        let pieces = [
            "a=1",
            "b",
            "__Host-oidc_session=v",
            "__Host-oidc_flow_x=1",
            "c=\"q\"",
            "=",
            "d=e=f",
            "x",
            "__Host-oidc",
            "é=ü€",
            "\u{a0}__Host-oidc_session=n",
        ];
        let seps = ["; ", ";", " ;", ";\t", "; ; ", ";  ", "\t;\t"];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..50_000 {
            let mut h = String::new();
            // Up to 11 cookies, or up to 79 (past the 32 runs kept on the stack).
            let n = if next(8) == 0 { next(80) } else { next(12) };
            for i in 0..n {
                if i > 0 || next(4) == 0 {
                    h.push_str(seps[next(seps.len())]);
                }
                h.push_str(pieces[next(pieces.len())]);
            }
            if next(4) == 0 {
                h.push_str(seps[next(seps.len())]);
            }
            assert_eq!(split(&h, ours, None).rest, reference(&h, ours), "{h:?}");
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
