//! The stateless session: a sealed cookie holding who the user is, so any replica can
//! serve any request. [`seal`] is the AEAD under a key list, [`names`] the cookie names,
//! [`cookie`] reading and writing the (chunked) cookie.

pub mod cookie;
pub mod names;
pub mod seal;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use cookie::{read, read_sealed, sealed_value, write};
pub use names::{CookieNames, FLOW_ID_LEN};
pub use seal::{parse_key, Keys};

use crate::core::config::SessionConfig;

/// `Debug` shows who, not the ID token.
#[derive(Serialize, Deserialize, Clone, PartialEq)]
pub struct Session {
    pub sub: String,
    /// When the user logged in (seconds).
    pub iat: u64,
    /// Absolute end (`iat` + lifetime, seconds).
    pub exp: u64,
    /// When the cookie was last (re)issued (seconds): the idle timeout counts from here.
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

impl Session {
    /// When the cookie is re-issued to extend the idle window: at most once per quarter of
    /// the window, not on every request.
    pub fn reissue_at(&self, config: &SessionConfig) -> u64 {
        match config.idle_timeout {
            None => u64::MAX,
            Some(idle) => self.seen.saturating_add(idle.as_secs() / 4),
        }
    }

    /// Until when the session is valid, whatever comes first of lifetime and idle timeout.
    pub fn valid_until(&self, config: &SessionConfig) -> u64 {
        match config.idle_timeout {
            None => self.exp,
            Some(idle) => self.exp.min(self.seen.saturating_add(idle.as_secs())),
        }
    }
}

#[cfg(test)]
mod tests;
