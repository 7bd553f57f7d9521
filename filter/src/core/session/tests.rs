use super::cookie::{read, write};
use super::*;
use crate::core::config::SessionConfig;
use crate::core::testing::{cookie_header, login_config, session, session_key, FixedRng as Counter};
use serde_json::json;

const KEY_A: u8 = 1;
const KEY_B: u8 = 2;

fn login_with(keys: &[u8]) -> SessionConfig {
    let keys: Vec<String> = keys.iter().map(|k| session_key(*k)).collect();
    let cfg = login_config(json!({"session": {"keys": keys, "lifetime": "8h", "idle_timeout": "1h"}}));
    cfg.login.unwrap().session
}

#[test]
fn round_trip_and_lifetimes() {
    let login = login_with(&[KEY_A]);
    let s = session(1000, json!({"email": "a@example.com"}));
    let set = write(&login, &s, &[], &mut Counter(0)).unwrap();
    assert_eq!(set.len(), 1);
    assert!(set[0].starts_with("__Host-oidc_session="));
    assert!(set[0].contains("; HttpOnly; SameSite=Lax; Secure; Max-Age=28800"));
    let h = format!("theme=dark; {}", cookie_header(&set));
    assert_eq!(read(&login, Some(&h), 1001), SessionState::Valid { session: s.clone(), reissue: false });
    assert_eq!(read(&login, Some(&h), 1000 + 901), SessionState::Valid { session: s.clone(), reissue: true });
    assert_eq!(read(&login, Some(&h), 1000 + 3600), SessionState::Expired, "idle timeout");
    let mut busy = s.clone();
    busy.seen = 1000 + 8 * 3600 - 10;
    let h2 = cookie_header(&write(&login, &busy, &[], &mut Counter(0)).unwrap());
    assert_eq!(read(&login, Some(&h2), 1000 + 8 * 3600), SessionState::Expired, "absolute lifetime");
    assert_eq!(read(&login, None, 1000), SessionState::Absent);
    assert_eq!(read(&login, Some("theme=dark"), 1000), SessionState::Absent);
}

#[test]
fn bad_cookies_are_invalid() {
    let login = login_with(&[KEY_A]);
    let set = write(&login, &session(1000, json!({})), &[], &mut Counter(0)).unwrap();
    let good = cookie_header(&set);
    let value = good.split_once('=').unwrap().1;
    let mut tampered = value.as_bytes().to_vec();
    tampered[40] = if tampered[40] == b'A' { b'B' } else { b'A' };
    let cases = [
        format!("__Host-oidc_session={}", String::from_utf8(tampered).unwrap()),
        format!("__Host-oidc_session={}", &value[..value.len() - 10]),
        "__Host-oidc_session=garbage".to_string(),
        "__Host-oidc_session=".to_string(),
    ];
    for c in cases {
        assert_eq!(read(&login, Some(&c), 1001), SessionState::Invalid, "{c}");
    }
    // Sealed under a key this filter does not have.
    let foreign = Keys::new(&[[KEY_B; 32]]).seal("__Host-oidc_session", b"{}", &mut Counter(0)).unwrap();
    assert_eq!(read(&login, Some(&format!("__Host-oidc_session={foreign}")), 1001), SessionState::Invalid);
}

#[test]
fn key_rotation() {
    let s = session(1000, json!({}));
    let old = cookie_header(&write(&login_with(&[KEY_A]), &s, &[], &mut Counter(0)).unwrap());
    let rotated = login_with(&[KEY_B, KEY_A]);
    assert!(matches!(read(&rotated, Some(&old), 1001), SessionState::Valid { .. }));
    let removed = login_with(&[KEY_B]);
    assert_eq!(read(&removed, Some(&old), 1001), SessionState::Invalid);
}

#[test]
fn large_sessions_are_chunked_and_reassembled_by_number() {
    let login = login_with(&[KEY_A]);
    let groups: Vec<String> = (0..400).map(|i| format!("group-number-{i:04}")).collect();
    let s = session(1000, json!({"groups": groups}));
    let set = write(&login, &s, &["__Host-oidc_session", "__Host-oidc_session_5"], &mut Counter(0)).unwrap();
    let chunk_cookies: Vec<&String> = set.iter().filter(|c| !c.contains("Max-Age=0")).collect();
    assert!(chunk_cookies.len() >= 3, "{} chunks", chunk_cookies.len());
    assert!(chunk_cookies.iter().all(|c| c.len() < 4096));
    assert!(chunk_cookies[0].starts_with("__Host-oidc_session_0="));
    // Stale cookies from an earlier, differently sized session are cleared.
    assert!(set.iter().any(|c| c.starts_with("__Host-oidc_session=;") && c.contains("Max-Age=0")));
    assert!(set.iter().any(|c| c.starts_with("__Host-oidc_session_5=;") && c.contains("Max-Age=0")));
    // Any order in the Cookie header: reassembled by number.
    let mut parts: Vec<String> = cookie_header(&set).split("; ").map(String::from).collect();
    parts.reverse();
    let h = parts.join("; ");
    assert!(matches!(read(&login, Some(&h), 1001), SessionState::Valid { session, .. } if session == s));
    // A missing chunk breaks the seal.
    let without_1: Vec<&str> = h.split("; ").filter(|p| !p.starts_with("__Host-oidc_session_1=")).collect();
    assert_eq!(read(&login, Some(&without_1.join("; ")), 1001), SessionState::Invalid);
    assert_eq!(login.cookies.sessions_in(Some(&h)).len(), chunk_cookies.len());
}
