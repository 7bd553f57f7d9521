//! One login in progress (`state`, `nonce`, PKCE verifier, where to return), sealed in
//! its own short-lived cookie named after its `state`: parallel tabs work, and the
//! callback can land on any replica.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::core::authz::StepUp;
use crate::core::config::SessionConfig;
use crate::core::rand::{random_token, Random};
use crate::core::session::cookie::ATTRS;
use crate::core::session::names::MAX_OWN_COOKIES;
use crate::core::session::FLOW_ID_LEN;
use crate::core::web::{cookies, safe_return};

/// How long a login may take, from the redirect to the callback.
pub const FLOW_TTL: Duration = Duration::from_secs(600);
/// Pending logins kept per browser; starting one more drops the oldest.
pub const MAX_FLOWS: usize = 4;
/// The longest original URL kept for the return after login.
pub const MAX_TARGET: usize = 1536;
/// The most flow cookies one request makes the filter open; a browser never holds more
/// than [`MAX_FLOWS`], so any beyond this are cleared unopened.
pub const MAX_OPENED_FLOWS: usize = 2 * MAX_FLOWS;

/// `Debug` shows no secret.
#[derive(Serialize, Deserialize, Clone, PartialEq)]
pub struct Flow {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// Where the browser goes after login (a same-origin path).
    pub target: String,
    /// When the login started (seconds).
    pub created: u64,
    /// A step-up login: what the new ID token must meet (checked at the callback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_up: Option<StepUp>,
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Flow {{ target: {:?}, created: {}, state/nonce/verifier: [redacted] }}", self.target, self.created)
    }
}

impl Flow {
    /// A new login returning to `target` (only a same-origin path is kept).
    pub fn new(target: &str, now_s: u64, rng: &mut dyn Random) -> Flow {
        Flow {
            state: random_token(rng, 32),
            nonce: random_token(rng, 32),
            verifier: random_token(rng, 32),
            // A long target would push the flow cookie past the 4 KB browsers keep.
            target: if target.len() > MAX_TARGET { "/".to_string() } else { safe_return(target, &[]) },
            created: now_s,
            step_up: None,
        }
    }

    /// The flow cookie's name for a `state`, if the state has the shape this filter makes.
    pub fn cookie_name(config: &SessionConfig, state: &str) -> Option<String> {
        let id = state.get(..FLOW_ID_LEN).filter(|_| state.len() >= 32)?;
        Some(config.cookies.flow(id))
    }

    /// The `Set-Cookie` that stores this flow.
    pub fn set_cookie(&self, config: &SessionConfig, rng: &mut dyn Random) -> Option<String> {
        let name = Flow::cookie_name(config, &self.state)?;
        let plain = serde_json::to_vec(self).ok()?;
        let sealed = config.keys.seal(&name, &plain, rng)?;
        Some(cookies::set_cookie(&name, &sealed, Some(FLOW_TTL.as_secs()), &ATTRS))
    }

    /// Opens the flow cookie `name` from a `Cookie` header.
    pub fn open(config: &SessionConfig, cookie_header: Option<&str>, name: &str) -> Option<Flow> {
        Flow::unseal(config, name, cookies::get(cookie_header?, name)?)
    }

    fn unseal(config: &SessionConfig, name: &str, value: &str) -> Option<Flow> {
        serde_json::from_slice(&config.keys.open(name, value)?).ok()
    }

    pub fn expired(&self, now_s: u64) -> bool {
        now_s >= self.created.saturating_add(FLOW_TTL.as_secs())
    }
}

/// Clears flow cookies that are expired or unreadable, and the oldest ones beyond
/// [`MAX_FLOWS`] - 1, so that a new flow makes at most [`MAX_FLOWS`]. Opens at most
/// [`MAX_OPENED_FLOWS`] and clears at most [`MAX_OWN_COOKIES`].
pub fn drop_old_flows(config: &SessionConfig, cookie_header: Option<&str>, now_s: u64) -> Vec<String> {
    let mut live: Vec<(u64, &str)> = Vec::new();
    let mut clear = Vec::new();
    let mut opened = 0;
    for (name, value) in cookie_header.map(cookies::parse).into_iter().flatten() {
        if !config.cookies.is_flow(name) || live.iter().any(|(_, n)| *n == name) || clear.contains(&name) {
            continue;
        }
        opened += 1;
        let flow = if opened <= MAX_OPENED_FLOWS { Flow::unseal(config, name, value) } else { None };
        match flow {
            Some(f) if !f.expired(now_s) => live.push((f.created, name)),
            _ => clear.push(name),
        }
        if clear.len() + live.len() >= MAX_OWN_COOKIES + MAX_FLOWS {
            break;
        }
    }
    live.sort();
    let excess = live.len().saturating_sub(MAX_FLOWS - 1);
    clear.extend(live.iter().take(excess).map(|(_, n)| *n));
    clear.truncate(MAX_OWN_COOKIES);
    clear.into_iter().map(|n| cookies::clear_cookie(n, &ATTRS)).collect()
}
