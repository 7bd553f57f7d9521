//! The stateless session: a sealed cookie holding who the user is, so any replica can
//! serve any request. Split into numbered chunks (`name_0`, `name_1`, ...) above
//! [`CHUNK_SIZE`] and reassembled by number.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;

use super::cookies::{self, CookieAttrs};
use super::login_config::LoginConfig;
use super::seal::Random;

/// The most bytes of sealed value per cookie; with name and attributes a cookie stays
/// under the 4,096 bytes browsers keep.
pub const CHUNK_SIZE: usize = 3800;
/// More chunks than this is not a session this filter wrote.
pub const MAX_CHUNKS: usize = 8;

pub const ATTRS: CookieAttrs = CookieAttrs { secure: true, same_site: "Lax" };

/// `Debug` shows who, not the ID token.
#[derive(Serialize, Deserialize, Clone, PartialEq)]
pub struct Session {
    pub sub: String,
    /// When the user logged in.
    pub iat: u64,
    /// Absolute end (`iat` + lifetime).
    pub exp: u64,
    /// When the cookie was last (re)issued: the idle timeout counts from here.
    pub seen: u64,
    /// The claims the identity headers need.
    pub claims: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Session {{ sub: {:?}, iat: {}, exp: {}, seen: {}, claims: {:?} }}",
            self.sub,
            self.iat,
            self.exp,
            self.seen,
            self.claims.keys().collect::<Vec<_>>()
        )
    }
}

#[derive(Debug, PartialEq)]
pub enum SessionState {
    /// No session cookie at all.
    Absent,
    /// A cookie that does not open (tampered, truncated, unknown key, garbage).
    Invalid,
    /// A valid cookie whose lifetime or idle timeout has passed.
    Expired,
    /// A live session; `reissue` when the idle window should be extended.
    Valid { session: Session, reissue: bool },
}

/// The sealed session value as the request carries it: unchunked (borrowed from the
/// header, no copy), or chunks joined by number.
pub fn sealed_value<'a>(login: &LoginConfig, cookie_header: &'a str) -> Option<Cow<'a, str>> {
    if let Some(v) = cookies::get(cookie_header, &login.cookie_name) {
        return Some(Cow::Borrowed(v));
    }
    let mut value = String::new();
    for i in 0..=MAX_CHUNKS {
        match cookies::get(cookie_header, &format!("{}_{i}", login.cookie_name)) {
            Some(chunk) if i < MAX_CHUNKS => value.push_str(chunk),
            Some(_) => return Some(Cow::Owned(String::new())),
            None if i == 0 => return None,
            None => break,
        }
    }
    Some(Cow::Owned(value))
}

pub fn read(login: &LoginConfig, cookie_header: Option<&str>, now: u64) -> SessionState {
    read_sealed(login, cookie_header.and_then(|h| sealed_value(login, h)).as_deref(), now)
}

/// [`read`], for a sealed value already taken from the `Cookie` header.
pub fn read_sealed(login: &LoginConfig, sealed: Option<&str>, now: u64) -> SessionState {
    let Some(value) = sealed else {
        return SessionState::Absent;
    };
    let Some(plain) = login.keys.open(&login.cookie_name, value) else {
        return SessionState::Invalid;
    };
    let Ok(session) = serde_json::from_slice::<Session>(&plain) else {
        return SessionState::Invalid;
    };
    let idle_over = login.idle_timeout > 0 && now >= session.seen.saturating_add(login.idle_timeout);
    if now >= session.exp || idle_over || session.iat > now.saturating_add(300) {
        return SessionState::Expired;
    }
    let reissue = now >= refresh_at(login, &session);
    SessionState::Valid { session, reissue }
}

/// When the cookie is re-issued to extend the idle window: at most once per quarter of
/// the window, not on every request.
pub fn refresh_at(login: &LoginConfig, session: &Session) -> u64 {
    if login.idle_timeout == 0 {
        u64::MAX
    } else {
        session.seen.saturating_add(login.idle_timeout / 4)
    }
}

/// Until when the session is valid, whatever comes first of lifetime and idle timeout.
pub fn valid_until(login: &LoginConfig, session: &Session) -> u64 {
    if login.idle_timeout == 0 {
        session.exp
    } else {
        session.exp.min(session.seen.saturating_add(login.idle_timeout))
    }
}

/// The names of the session cookies the request carries (for clearing stale chunks).
pub fn present_names<'a>(login: &LoginConfig, cookie_header: Option<&'a str>) -> Vec<&'a str> {
    cookie_header
        .map(|h| cookies::parse(h).map(|(n, _)| n).filter(|n| login.is_session_cookie(n)).collect())
        .unwrap_or_default()
}

/// `Set-Cookie` values that store `session`, clearing session cookies the request has
/// that the new set does not overwrite. `None` if sealing failed.
pub fn write(login: &LoginConfig, session: &Session, present: &[&str], rng: &mut dyn Random) -> Option<Vec<String>> {
    let plain = serde_json::to_vec(session).ok()?;
    let sealed = login.keys.seal(&login.cookie_name, &plain, rng)?;
    let max_age = Some(session.exp.saturating_sub(session.seen).min(login.lifetime));
    let mut out = Vec::new();
    let mut written: Vec<String> = Vec::new();
    if sealed.len() <= CHUNK_SIZE {
        out.push(cookies::set_cookie(&login.cookie_name, &sealed, max_age, &ATTRS));
        written.push(login.cookie_name.clone());
    } else {
        let chunks: Vec<&str> =
            sealed.as_bytes().chunks(CHUNK_SIZE).filter_map(|c| std::str::from_utf8(c).ok()).collect();
        if chunks.len() > MAX_CHUNKS {
            return None;
        }
        for (i, chunk) in chunks.iter().enumerate() {
            let name = format!("{}_{i}", login.cookie_name);
            out.push(cookies::set_cookie(&name, chunk, max_age, &ATTRS));
            written.push(name);
        }
    }
    for name in present {
        if !written.iter().any(|w| w == name) {
            out.push(cookies::clear_cookie(name, &ATTRS));
        }
    }
    Some(out)
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
