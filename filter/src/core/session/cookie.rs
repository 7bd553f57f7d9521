//! The session cookie: split into numbered chunks (`name_0`, `name_1`, ...) above
//! [`CHUNK_SIZE`] and reassembled by number, sealed under the session keys.

use std::borrow::Cow;

use super::{Session, SessionState};
use crate::core::config::SessionConfig;
use crate::core::rand::Random;
use crate::core::web::cookies::{self, CookieAttrs};

/// The most bytes of sealed value per cookie; with name and attributes a cookie stays
/// under the 4,096 bytes browsers keep.
pub const CHUNK_SIZE: usize = 3800;
/// More chunks than this is not a session this filter wrote.
pub const MAX_CHUNKS: usize = 8;
/// Sessions issued further than this in the future (seconds) are refused.
const MAX_FUTURE_IAT: u64 = 300;

pub const ATTRS: CookieAttrs = CookieAttrs { secure: true, same_site: "Lax" };

/// The sealed session value as the request carries it: unchunked (borrowed from the
/// header, no copy), or chunks joined by number.
pub fn sealed_value<'a>(config: &SessionConfig, cookie_header: &'a str) -> Option<Cow<'a, str>> {
    if let Some(v) = cookies::get(cookie_header, config.cookies.session()) {
        return Some(Cow::Borrowed(v));
    }
    sealed_chunks(config, cookie_header)
}

/// The sealed value from numbered chunks (`None`: no chunk 0), for a header without the
/// whole cookie.
pub fn sealed_chunks<'a>(config: &SessionConfig, cookie_header: &'a str) -> Option<Cow<'a, str>> {
    let mut value = String::new();
    for i in 0..=MAX_CHUNKS {
        match cookies::get(cookie_header, &config.cookies.chunk(i)) {
            Some(chunk) if i < MAX_CHUNKS => value.push_str(chunk),
            Some(_) => return Some(Cow::Owned(String::new())),
            None if i == 0 => return None,
            None => break,
        }
    }
    Some(Cow::Owned(value))
}

pub fn read(config: &SessionConfig, cookie_header: Option<&str>, now_s: u64) -> SessionState {
    read_sealed(config, cookie_header.and_then(|h| sealed_value(config, h)).as_deref(), now_s)
}

/// [`read`], for a sealed value already taken from the `Cookie` header.
pub fn read_sealed(config: &SessionConfig, sealed: Option<&str>, now_s: u64) -> SessionState {
    let Some(value) = sealed else {
        return SessionState::Absent;
    };
    let Some(plain) = config.keys.open(config.cookies.session(), value) else {
        return SessionState::Invalid;
    };
    let Ok(session) = serde_json::from_slice::<Session>(&plain) else {
        return SessionState::Invalid;
    };
    if now_s >= session.valid_until(config) || session.iat > now_s.saturating_add(MAX_FUTURE_IAT) {
        return SessionState::Expired;
    }
    let reissue = now_s >= session.reissue_at(config);
    SessionState::Valid { session, reissue }
}

/// `Set-Cookie` values that store `session`, clearing session cookies the request has
/// that the new set does not overwrite. `None` if sealing failed.
pub fn write(config: &SessionConfig, session: &Session, present: &[&str], rng: &mut dyn Random) -> Option<Vec<String>> {
    let plain = serde_json::to_vec(session).ok()?;
    let sealed = config.keys.seal(config.cookies.session(), &plain, rng)?;
    let max_age = Some(session.exp.saturating_sub(session.seen).min(config.lifetime.as_secs()));
    let mut out = Vec::new();
    let mut written: Vec<String> = Vec::new();
    if sealed.len() <= CHUNK_SIZE {
        out.push(cookies::set_cookie(config.cookies.session(), &sealed, max_age, &ATTRS));
        written.push(config.cookies.session().to_string());
    } else {
        let chunks: Vec<&str> =
            sealed.as_bytes().chunks(CHUNK_SIZE).filter_map(|c| std::str::from_utf8(c).ok()).collect();
        if chunks.len() > MAX_CHUNKS {
            return None;
        }
        for (i, chunk) in chunks.iter().enumerate() {
            let name = config.cookies.chunk(i);
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
