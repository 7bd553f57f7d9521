//! The stateless session: a sealed cookie holding who the user is, so any replica can
//! serve any request. [`seal`] is the AEAD under a key list, [`names`] the cookie names,
//! [`cookie`] reading and writing the (chunked) cookie.

pub mod cookie;
pub mod names;
pub mod refresh;
pub mod seal;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use cookie::{read, read_sealed, sealed_chunks, sealed_value, write};
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
    /// Kept with `session.refresh`: the grant that renews the access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Kept with `forward_access_token`: sent upstream as `Authorization: Bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// When the access token expires (seconds), when the token endpoint said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_exp: Option<u64>,
    /// How many times the session was renewed: tells a newer renewal from this one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub renewals: u32,
    /// The IdP's session (the ID token's `sid`), kept with `backchannel_logout_path`: a
    /// logout token naming it ends this session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Session {{ sub: {:?}, iat: {}, exp: {}, seen: {}, access_exp: {:?}, claims: {:?}, tokens: [redacted] }}",
            self.sub,
            self.iat,
            self.exp,
            self.seen,
            self.access_exp,
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
    /// A new session for `sub`, logged in at `now_s`.
    pub fn new(sub: &str, now_s: u64, config: &SessionConfig, claims: Map<String, Value>) -> Session {
        Session {
            sub: sub.to_string(),
            iat: now_s,
            exp: now_s.saturating_add(config.lifetime.as_secs()),
            seen: now_s,
            claims,
            id_token: None,
            refresh_token: None,
            access_token: None,
            access_exp: None,
            renewals: 0,
            sid: None,
        }
    }

    /// When the cookie is re-issued to extend the idle window: at most once per quarter of
    /// the window, not on every request.
    pub fn reissue_at(&self, config: &SessionConfig) -> u64 {
        match config.idle_timeout {
            None => u64::MAX,
            Some(idle) => self.seen.saturating_add(idle.as_secs() / 4),
        }
    }

    /// When a request should renew the access token (seconds): `refresh_margin` before it
    /// expires, when refresh is on and the session has a refresh token.
    pub fn refresh_due_at(&self, config: &SessionConfig) -> u64 {
        match (config.refresh_margin, &self.refresh_token, self.access_exp) {
            (Some(margin), Some(_), Some(exp)) => exp.saturating_sub(margin.as_secs()),
            _ => u64::MAX,
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
