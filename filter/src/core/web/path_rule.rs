//! Path rules (`bypass`, `api_paths`): `{"prefix": …}`, `{"exact": …}` or `{"regex": …}`.

use std::fmt;

use crate::core::config::raw::RawPathRule;

#[derive(Debug, Clone)]
pub enum PathRule {
    /// Plain string prefix, as Envoy's route `prefix`: `/api` also matches `/apix`.
    Prefix(String),
    Exact(String),
    /// Searched in the path (not anchored unless the pattern anchors itself).
    Regex(regex_lite::Regex),
}

/// Why a path rule does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathRuleError {
    NotOneKind,
    NotAbsolute,
    /// The regex engine's reason (it names the construct, not the pattern).
    Regex(String),
}

impl fmt::Display for PathRuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathRuleError::NotOneKind => f.write_str("give exactly one of \"prefix\", \"exact\", \"regex\""),
            PathRuleError::NotAbsolute => f.write_str("the path must start with \"/\""),
            PathRuleError::Regex(e) => write!(f, "invalid regex: {e}"),
        }
    }
}

impl PathRule {
    pub fn compile(raw: &RawPathRule) -> Result<PathRule, PathRuleError> {
        let rule = match (&raw.prefix, &raw.exact, &raw.regex) {
            (Some(p), None, None) => PathRule::Prefix(p.clone()),
            (None, Some(e), None) => PathRule::Exact(e.clone()),
            (None, None, Some(r)) => PathRule::Regex(
                regex_lite::Regex::new(r).map_err(|e| PathRuleError::Regex(first_line(&e.to_string())))?,
            ),
            _ => return Err(PathRuleError::NotOneKind),
        };
        match &rule {
            PathRule::Prefix(p) | PathRule::Exact(p) if !p.starts_with('/') => Err(PathRuleError::NotAbsolute),
            _ => Ok(rule),
        }
    }

    /// Whether the rule matches `path` as it is (no normalization check: see
    /// [`is_normalized`]).
    pub fn matches_path(&self, path: &str) -> bool {
        match self {
            PathRule::Prefix(p) => path.starts_with(p.as_str()),
            PathRule::Exact(e) => path == e,
            PathRule::Regex(r) => r.is_match(path),
        }
    }
}

/// The regex engine's message without any line that quotes the pattern.
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").to_string()
}

/// The path without its query string.
pub fn path_only(path_and_query: &str) -> &str {
    path_and_query.split(['?', '#']).next().unwrap_or(path_and_query)
}

/// Whether a path is in plain, normalized form. Rules that let traffic through
/// only ever match such paths: `/healthz/../admin`, `//admin`, `/%2e%2e/` and
/// backslashes never match a bypass rule, whatever the proxy's normalization.
pub fn is_normalized(path: &str) -> bool {
    // One pass over the bytes (this runs up to three times a request: bypass, plain-path
    // refusal, authorization rules), each test the same as the substring searches it
    // replaces (`normalized_is_the_substring_rules` holds them side by side).
    let b = path.as_bytes();
    if b.first() != Some(&b'/') {
        return false;
    }
    let at = |i: usize| b.get(i).copied();
    let segment_end = |i: usize| matches!(at(i), None | Some(b'/'));
    for (i, &c) in b.iter().enumerate() {
        match c {
            // `;` starts path parameters, which some servers strip (`/healthz/..;/admin` is
            // `/admin` to Tomcat).
            b'\\' | b';' => return false,
            // `//`, and the segments `.` and `..`.
            b'/' if at(i + 1) == Some(b'/')
                || (at(i + 1) == Some(b'.')
                    && (segment_end(i + 2) || (at(i + 2) == Some(b'.') && segment_end(i + 3)))) =>
            {
                return false
            }
            // `.`, `/`, `\\`, NUL and `;` escaped, and `%25`, which could decode into any of them.
            b'%' if matches!(
                [at(i + 1).map(|x| x.to_ascii_lowercase()), at(i + 2).map(|x| x.to_ascii_lowercase())],
                [Some(b'2'), Some(b'e' | b'f' | b'5')]
                    | [Some(b'5'), Some(b'c')]
                    | [Some(b'0'), Some(b'0')]
                    | [Some(b'3'), Some(b'b')]
            ) =>
            {
                return false
            }
            _ => {}
        }
    }
    true
}

/// Whether any rule matches the request path (query ignored). Never matches a
/// path that is not normalized.
pub fn any_match(rules: &[PathRule], path_and_query: &str) -> bool {
    if rules.is_empty() {
        return false;
    }
    let path = path_only(path_and_query);
    is_normalized(path) && rules.iter().any(|r| r.matches_path(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: &str) -> PathRule {
        PathRule::compile(&serde_json::from_str(json).unwrap()).unwrap()
    }

    #[test]
    fn matches_like_envoy_routes() {
        let rules = vec![
            rule(r#"{"prefix":"/healthz"}"#),
            rule(r#"{"exact":"/favicon.ico"}"#),
            rule(r#"{"regex":"^/static/"}"#),
        ];
        assert!(any_match(&rules, "/healthz"));
        assert!(any_match(&rules, "/healthz/live?x=1"));
        assert!(any_match(&rules, "/favicon.ico"));
        assert!(!any_match(&rules, "/favicon.ico.bak"));
        assert!(any_match(&rules, "/static/app.js"));
        assert!(!any_match(&rules, "/app/static/x"));
        assert!(!any_match(&rules, "/admin?next=/healthz"));
    }

    /// The substring rules `is_normalized` implements in one pass.
    fn by_substrings(path: &str) -> bool {
        if !path.starts_with('/') || path.contains("//") || path.contains('\\') || path.contains(';') {
            return false;
        }
        if path.split('/').any(|seg| seg == "." || seg == "..") {
            return false;
        }
        let lower = path.to_ascii_lowercase();
        !["%2e", "%2f", "%5c", "%00", "%3b", "%25"].iter().any(|enc| lower.contains(enc))
    }

    #[test]
    fn normalized_is_the_substring_rules() {
        // Every path of up to four characters from an alphabet of the characters that
        // matter, plus some longer ones.
        let alphabet = ["/", ".", "%", "2", "e", "E", "f", "5", "c", "0", "3", "b", "B", ";", "\\", "a", "é"];
        let mut paths = vec![String::new()];
        let mut all = Vec::new();
        for _ in 0..4 {
            paths = paths.iter().flat_map(|p| alphabet.iter().map(move |c| format!("{p}{c}"))).collect();
            all.extend(paths.iter().cloned());
        }
        all.extend(
            ["/a/b/c", "/a/./b", "/a/../b", "/a/.../b", "/a/..b", "/a/b.", "/a/b/..", "/a/%2E%2e/b", "/%5C", "/x%3B"]
                .map(String::from),
        );
        for p in &all {
            let p = format!("/{p}");
            assert_eq!(is_normalized(&p), by_substrings(&p), "{p:?}");
            assert_eq!(is_normalized(&p[1..]), by_substrings(&p[1..]), "{:?}", &p[1..]);
        }
    }

    #[test]
    fn tricks_never_bypass() {
        let rules = vec![rule(r#"{"prefix":"/healthz"}"#), rule(r#"{"regex":"^/static/"}"#)];
        for p in [
            "/healthz/../admin",
            "/healthz/%2e%2e/admin",
            "/healthz/..%2Fadmin",
            "/static//../x",
            "/static/\\..\\x",
            "/healthz/./x",
            "/healthz/..;/admin",
            "/healthz/..%3B/admin",
            "/healthz;x=1/../admin",
            "/healthz/%252e%252e/admin",
        ] {
            assert!(!any_match(&rules, p), "{p}");
        }
    }

    #[test]
    fn compile_errors_say_what_is_wrong_without_the_pattern() {
        let e = |j: &str| PathRule::compile(&serde_json::from_str(j).unwrap()).unwrap_err().to_string();
        assert_eq!(e(r#"{}"#), "give exactly one of \"prefix\", \"exact\", \"regex\"");
        assert_eq!(e(r#"{"prefix":"/a","exact":"/b"}"#), "give exactly one of \"prefix\", \"exact\", \"regex\"");
        assert_eq!(e(r#"{"prefix":"healthz"}"#), "the path must start with \"/\"");
        let bad = e(r#"{"regex":"(secret-pattern"}"#);
        assert!(bad.starts_with("invalid regex: "), "{bad}");
        assert!(!bad.contains("secret-pattern"), "{bad}");
    }
}
