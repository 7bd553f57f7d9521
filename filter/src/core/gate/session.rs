//! The session step: an opened-cookie cache hit, or the sealed cookie opened and checked;
//! an active session's idle window is extended by a re-issued cookie.

use super::{Counter, Credential, Gate, Io, Request};
use crate::core::config::LoginConfig;
use crate::core::identity::Identity;
use crate::core::session::{self, SessionState};
use crate::core::token::cache::{key_of, Cached};

impl Gate {
    pub(super) fn session(
        &mut self,
        login: &LoginConfig,
        req: &Request<'_>,
        now_s: u64,
        io: &mut Io<'_>,
    ) -> Credential {
        let config = &login.session;
        let cookie = req.cookie.as_deref();
        let sealed = cookie.and_then(|h| session::sealed_value(config, h));
        if let Some(hit) = sealed.as_deref().and_then(|v| self.sessions.get(v, now_s)) {
            if now_s < hit.refresh_at {
                return Credential::Verified {
                    identity: hit.identity,
                    counter: Counter::AllowedSession,
                    set_cookies: vec![],
                };
            }
        }
        match session::read_sealed(config, sealed.as_deref(), now_s) {
            SessionState::Valid { mut session, reissue } => {
                let mapping = &self.config.identity;
                let identity = Identity::from_claims(&mapping.headers, &session.claims, mapping.require_email_verified);
                let mut set_cookies = Vec::new();
                if reissue {
                    session.seen = now_s;
                    let present = config.cookies.sessions_in(cookie);
                    set_cookies = session::write(config, &session, &present, io.rng).unwrap_or_default();
                } else if let Some(v) = &sealed {
                    let entry = Cached {
                        exp: session.valid_until(config),
                        refresh_at: session.reissue_at(config),
                        identity: identity.clone(),
                    };
                    self.sessions.insert(key_of(v), entry, now_s);
                }
                Credential::Verified { identity, counter: Counter::AllowedSession, set_cookies }
            }
            SessionState::Absent => Credential::Absent { lapsed: false },
            SessionState::Invalid => {
                (io.count)(Counter::SessionInvalid);
                Credential::Absent { lapsed: true }
            }
            SessionState::Expired => {
                (io.count)(Counter::SessionExpired);
                Credential::Absent { lapsed: true }
            }
        }
    }
}
