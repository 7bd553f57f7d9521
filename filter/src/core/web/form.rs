//! `application/x-www-form-urlencoded` and query strings (WHATWG URL, section 5).

/// Percent-encodes everything but the unreserved characters (RFC 3986 section 2.3).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0xf));
        }
    }
    out
}

fn hex_digit(n: u8) -> char {
    char::from(if n < 10 { b'0' + n } else { b'A' + n - 10 })
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one component (`+` is a space). `None` on bad escapes or invalid UTF-8.
pub fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex_value(*bytes.get(i + 1)?)?;
                let lo = hex_value(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Builds `a=1&b=2` from pairs.
pub fn serialize(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// The longest query string or form body parsed; a longer one is refused whole.
pub const MAX_FORM_BYTES: usize = 8 * 1024;
/// The most parameters parsed; more are refused whole. With this cap, the check for
/// repeated names costs at most a few thousand comparisons, whatever a client sends.
pub const MAX_PARAMS: usize = 64;

/// Parses a query string or form body. A parameter given twice, or a bad escape, makes
/// the whole input invalid (`None`): OAuth parameters must not repeat (RFC 6749 3.1). So
/// does an input over [`MAX_FORM_BYTES`] or with more than [`MAX_PARAMS`] parameters.
pub fn parse(query: &str) -> Option<Vec<(String, String)>> {
    parse_within(query, MAX_FORM_BYTES)
}

/// [`parse`], for an input of at most `max_bytes` (a form that carries a token).
pub fn parse_within(query: &str, max_bytes: usize) -> Option<Vec<(String, String)>> {
    if query.len() > max_bytes {
        return None;
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        if out.len() == MAX_PARAMS {
            return None;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let (k, v) = (decode(k)?, decode(v)?);
        if out.iter().any(|(seen, _)| *seen == k) {
            return None;
        }
        out.push((k, v));
    }
    Some(out)
}

pub fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let s = serialize(&[("redirect_uri", "http://127.0.0.1:8080/cb?x=1&y"), ("scope", "openid email")]);
        assert_eq!(s, "redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcb%3Fx%3D1%26y&scope=openid%20email");
        let p = parse(&s).unwrap();
        assert_eq!(get(&p, "redirect_uri"), Some("http://127.0.0.1:8080/cb?x=1&y"));
        assert_eq!(get(&p, "scope"), Some("openid email"));
        assert_eq!(decode("a+b%2Bc"), Some("a b+c".into()));
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn refuses_repeats_and_bad_escapes() {
        assert_eq!(parse("state=a&state=b"), None);
        assert_eq!(parse("state=%zz"), None);
        assert_eq!(parse("state=%e2%28"), None, "invalid UTF-8");
        assert_eq!(parse("a=%4"), None);
        assert_eq!(parse(""), Some(vec![]));
        assert_eq!(parse("flag"), Some(vec![("flag".into(), "".into())]));
    }

    #[test]
    fn refuses_inputs_too_long_or_with_too_many_parameters() {
        // `?0&1&2&...&9999` (about 49 KB) once cost a duplicate check against every
        // earlier parameter: tens of millions of comparisons on a worker.
        let many: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
        assert_eq!(parse(&many.join("&")), None);
        let at_cap: Vec<String> = (0..MAX_PARAMS).map(|i| format!("p{i}=v")).collect();
        assert_eq!(parse(&at_cap.join("&")).map(|p| p.len()), Some(MAX_PARAMS));
        let over: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=v")).collect();
        assert_eq!(parse(&over.join("&")), None);
        assert!(parse(&format!("code={}", "a".repeat(MAX_FORM_BYTES - 5))).is_some());
        assert_eq!(parse(&format!("code={}", "a".repeat(MAX_FORM_BYTES))), None);
    }
}
