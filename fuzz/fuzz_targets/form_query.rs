//! What a client puts in a URL: query strings and form bodies (`web::form::{parse,
//! decode}`), the return target of a login (`web::redirect::safe_return`), and the path
//! that bypass rules see (`web::path_rule::{is_normalized, any_match}`), plus
//! `AbsoluteUrl::parse` and `gate::bearer_token`.
//!
//! Input: one text (lossy UTF-8), used as a query, a return target and a path.
//! Properties:
//! - nothing panics;
//! - form: a parse is at most `MAX_FORM_BYTES` long, `MAX_PARAMS` parameters, no name
//!   twice, and it survives `serialize` then `parse` unchanged; `decode` of `encode` is
//!   the identity;
//! - redirect: the result is `/`, a local path (one `/`, then no `/` or `\`, no `\`
//!   anywhere, no space or control character), or an http(s) URL whose authority is an allowed host
//!   (without spaces or control characters) —
//!   never `//…`, `/\…`, nor another scheme — and `safe_return` of it is itself;
//! - path rules: a path that `is_normalized` accepts, or that matches a rule, has no `.`
//!   or `..` segment, no `//`, `\`, `;`, nor `%2e`, `%2f`, `%5c`, `%3b`, `%25`, `%00` in
//!   any case (a rule of prefix `/` matches every path that is normalized);
//! - URLs: a parsed absolute URL prints as an http(s) URL that parses to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oidc_gate::core::gate::bearer_token;
use oidc_gate::core::web::form::{self, MAX_FORM_BYTES, MAX_PARAMS};
use oidc_gate::core::web::path_rule::{any_match, is_normalized, PathRule};
use oidc_gate::core::web::{safe_return, AbsoluteUrl};
use oidc_gate_fuzz::{path_part, plain_path, ALLOWED_HOST};

thread_local! {
    static RULES: Vec<PathRule> = [
        r#"{"prefix": "/healthz"}"#,
        r#"{"exact": "/favicon.ico"}"#,
        r#"{"regex": "^/static/"}"#,
        r#"{"regex": "\\.css$"}"#,
        r#"{"prefix": "/"}"#,
    ]
    .iter()
    .map(|j| PathRule::compile(&serde_json::from_str(j).expect("a rule")).expect("a valid rule"))
    .collect();
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    forms(&text);
    redirect(&text);
    RULES.with(|rules| paths(rules, &text));
    if let Ok(url) = AbsoluteUrl::parse(&text) {
        let printed = url.as_string();
        assert!(printed.starts_with("http://") || printed.starts_with("https://"), "{printed:?}");
        assert_eq!(AbsoluteUrl::parse(&printed).as_ref(), Ok(&url), "URL does not print to itself");
    }
    if let Some(token) = bearer_token(Some(&text)) {
        assert!(text.contains(token));
    }
});

fn forms(text: &str) {
    if let Some(pairs) = form::parse(text) {
        assert!(text.len() <= MAX_FORM_BYTES && pairs.len() <= MAX_PARAMS);
        for (i, (k, _)) in pairs.iter().enumerate() {
            assert!(!pairs[..i].iter().any(|(seen, _)| seen == k), "{k:?} twice");
        }
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let again = form::serialize(&refs);
        if again.len() <= MAX_FORM_BYTES {
            assert_eq!(form::parse(&again), Some(pairs.clone()), "serialize/parse changed {text:?}");
        }
    }
    if let Some(decoded) = form::decode(text) {
        assert_eq!(form::decode(&form::encode(&decoded)), Some(decoded));
    }
}

fn local_path(t: &str) -> bool {
    let b = t.as_bytes();
    b.first() == Some(&b'/')
        && !matches!(b.get(1), Some(b'/' | b'\\'))
        && !b.iter().any(|&c| c == b'\\' || c <= b' ' || c == 0x7f)
}

fn allowed_url(t: &str, allowed: &[String]) -> bool {
    let lower = t.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://")) else { return false };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host = authority.rsplit_once(':').map_or(authority, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            authority
        }
    });
    // A `\` after the authority is only a character of the path or query (browsers split
    // the authority at it, and the authority must be an allowed host exactly).
    !t.bytes().any(|c| c <= b' ' || c == 0x7f)
        && allowed.iter().any(|a| a.eq_ignore_ascii_case(host) || a.eq_ignore_ascii_case(authority))
}

fn redirect(text: &str) {
    let allowed = [ALLOWED_HOST.to_string(), "intranet.example:8443".to_string()];
    for hosts in [&allowed[..], &[]] {
        let out = safe_return(text, hosts);
        assert!(out == "/" || local_path(&out) || allowed_url(&out, hosts), "unsafe return {out:?} from {text:?}");
        assert_eq!(safe_return(&out, hosts), out, "safe_return is not idempotent on {out:?}");
    }
}

fn paths(rules: &[PathRule], text: &str) {
    if is_normalized(text) {
        assert!(plain_path(text), "is_normalized accepted {text:?}");
    }
    for n in 1..=rules.len() {
        if any_match(&rules[..n], text) {
            let path = path_part(text);
            assert!(plain_path(path), "a bypass rule matched {path:?} (from {text:?})");
        }
    }
}
