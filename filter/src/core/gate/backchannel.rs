//! The back-channel logout endpoint (OpenID Connect Back-Channel Logout 1.0):
//! `backchannel_logout_path` takes the IdP's logout token (POST, form-encoded), and the
//! sessions it names end on every worker of this Envoy (`shared::revoked`). 200 when
//! done; 400 with a JSON error otherwise (405 for another method), never cached.

use super::{Counter, Decision, Gate, Io, Level, LogLine, Request};
use crate::core::config::LoginConfig;
use crate::core::login::backchannel::{token_of, validate, LogoutError};
use crate::core::login::callback::LoginContext;
use crate::core::shared::revoked::{self, RecordError};
use crate::core::web::LocalResponse;

/// The endpoint, when the request is for it: its body is read next, if the request is a
/// form post at all.
pub(super) fn endpoint(login: &LoginConfig, req: &mut Request<'_>) -> Option<Decision> {
    let bc = login.backchannel.as_ref()?;
    if req.path() != bc.path {
        return None;
    }
    if req.header(":method").as_deref() != Some("POST") {
        return Some(refused(LogoutError::NotPost));
    }
    let form = req.header("content-type").is_some_and(|c| {
        c.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    });
    Some(if form { Decision::ReadBody } else { refused(LogoutError::NotForm) })
}

/// The answer to a refused logout: `invalid_request`, or `temporarily_unavailable` when
/// trying again may work; the reason goes to the log (never the token).
fn refused(e: LogoutError) -> Decision {
    let (status, extra) = match e {
        LogoutError::NotPost => (405, vec![("allow", "POST".to_string())]),
        _ => (400, vec![]),
    };
    let error = match e {
        LogoutError::NoKeys | LogoutError::Busy => "temporarily_unavailable",
        _ => "invalid_request",
    };
    let response = LocalResponse::json_error(status, error, e.description(), extra);
    let log = LogLine { level: Level::Info, message: format!("back-channel logout refused: {e}") };
    Decision::Respond { response, counter: Counter::BackchannelLogoutRefused, log: Some(log) }
}

impl Gate {
    /// Takes a back-channel logout's body (`None`: it was larger than
    /// [`crate::core::login::backchannel::MAX_BODY`] and was not read).
    pub fn backchannel_logout(&mut self, body: Option<&[u8]>, now_ms: u64, io: &mut Io<'_>) -> Decision {
        let config = self.config.clone();
        let (Some(login), Some(provider)) = (&config.login, self.providers.first()) else {
            return refused(LogoutError::NoKeys);
        };
        let Some(bc) = &login.backchannel else { return refused(LogoutError::NoToken) };
        let ctx = LoginContext { config: &config, login, provider };
        let now_s = now_ms / 1000;
        let recorded = body
            .ok_or(LogoutError::NoToken)
            .and_then(token_of)
            .and_then(|token| validate(&ctx, &token, now_s))
            .and_then(|logout| {
                revoked::record(io.shared, &bc.keys, &logout, now_s).map_err(|e| match e {
                    RecordError::Replayed => LogoutError::Replayed,
                    RecordError::Busy => LogoutError::Busy,
                })
            });
        match recorded {
            Ok(recorded) => {
                let log = recorded.overflowed.then(|| LogLine {
                    level: Level::Warn,
                    message: format!(
                        "back-channel logouts: more than {} remembered; every session that began until now is ended",
                        revoked::MAX_ENTRIES
                    ),
                });
                Decision::Respond { response: LocalResponse::empty(200), counter: Counter::BackchannelLogout, log }
            }
            Err(e) => refused(e),
        }
    }
}
