//! The session step: an opened-cookie cache hit, or the sealed cookie opened and checked;
//! an active session's idle window is extended by a re-issued cookie, and its access
//! token renewed when due (`refresh.rs`).

use std::borrow::Cow;
use std::rc::Rc;

use super::{Counter, Credential, Gate, Io, Level, LogLine, Request};
use crate::core::config::LoginConfig;
use crate::core::identity::{Authorization, Identity};
use crate::core::session::{self, Session, SessionState};
use crate::core::shared::revoked::Mark;
use crate::core::token::cache::{key_of, Cached};

fn mark(session: &Session) -> Mark {
    Mark::new(session.iat, &session.sub, session.sid.as_deref())
}

/// A session that a back-channel logout ended: like one the IdP refused to refresh, its
/// cookies are cleared and the request gets what one without a session gets.
pub(super) fn revoked(io: &mut Io<'_>) -> Credential {
    (io.log)(LogLine { level: Level::Info, message: "session ended: a back-channel logout revoked it".into() });
    (io.count)(Counter::SessionRevoked);
    Credential::Ended
}

/// A session opened from the request's cookie: whether its cookie is due for re-issue,
/// and its sealed value (`None`: not to be cached).
pub(super) struct Opened<'a> {
    pub session: Session,
    pub reissue: bool,
    pub sealed: Option<Cow<'a, str>>,
}

impl Gate {
    pub(super) fn session(
        &mut self,
        login: &LoginConfig,
        req: &Request<'_>,
        now_ms: u64,
        may_wait: bool,
        io: &mut Io<'_>,
    ) -> Credential {
        let now_s = now_ms / 1000;
        let config = &login.session;
        // The whole cookie from the one pass over the header; chunks only when it is not there.
        let sealed = match req.session_cookie(&config.cookies) {
            Some(v) => Some(Cow::Borrowed(v)),
            None => req.cookie().and_then(|h| session::sealed_chunks(config, h)),
        };
        if let (Some(bc), Some(_)) = (&login.backchannel, &sealed) {
            // One small read of shared data; the list itself only when it changed.
            self.revocations.sync(io.shared, &bc.keys);
        }
        if let Some(hit) = sealed.as_deref().and_then(|v| self.sessions.get(v, now_s)) {
            if hit.mark.is_some_and(|m| self.revocations.ended(&m, now_s)) {
                return revoked(io);
            }
            if now_s < hit.refresh_at {
                return Credential::Verified {
                    identity: hit.identity,
                    counter: Counter::AllowedSession,
                    set_cookies: vec![],
                };
            }
        }
        match session::read_sealed(config, sealed.as_deref(), now_s) {
            SessionState::Valid { session, .. } if self.revoked(login, &session, now_s) => revoked(io),
            SessionState::Valid { session, .. } if now_s >= session.refresh_due_at(config) => {
                self.refresh(login, req, session, now_ms, may_wait, io)
            }
            SessionState::Valid { session, reissue } => {
                self.serve(login, req, Opened { session, reissue, sealed }, now_s, io)
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

    /// A live session: its identity, cached under its sealed value unless its cookie is
    /// re-issued now (then the next request brings the new one).
    pub(super) fn serve(
        &mut self,
        login: &LoginConfig,
        req: &Request<'_>,
        opened: Opened<'_>,
        now_s: u64,
        io: &mut Io<'_>,
    ) -> Credential {
        let Opened { mut session, reissue, sealed } = opened;
        let config = &login.session;
        let identity = self.session_identity(login, &session);
        let mut set_cookies = Vec::new();
        if reissue {
            session.seen = now_s;
            let present = config.cookies.sessions_in(req.cookie());
            set_cookies = session::write(config, &session, &present, io.rng).unwrap_or_default();
        } else if let Some(v) = &sealed {
            let entry = Cached {
                exp: session.valid_until(config),
                refresh_at: session.reissue_at(config).min(session.refresh_due_at(config)),
                identity: identity.clone(),
                mark: login.backchannel.as_ref().map(|_| mark(&session)),
            };
            self.sessions.insert(key_of(v), entry, now_s);
        }
        Credential::Verified { identity, counter: Counter::AllowedSession, set_cookies }
    }

    /// Whether a back-channel logout ended this session (always `false` when off).
    pub(super) fn revoked(&self, login: &LoginConfig, session: &Session, now_s: u64) -> bool {
        login.backchannel.is_some()
            && !self.revocations.is_empty_at(now_s)
            && self.revocations.ended(&mark(session), now_s)
    }

    /// What the app gets from a session: the mapped claims, and the forwarded tokens.
    pub(super) fn session_identity(&self, login: &LoginConfig, session: &Session) -> Rc<Identity> {
        let mut identity = self.config.identity.identity(None, &session.claims);
        let forward_id = login.forward_id_token.as_ref().zip(session.id_token.as_ref());
        if forward_id.is_none() && !login.forward_access_token {
            return identity;
        }
        let id = Rc::make_mut(&mut identity);
        if let Some((header, token)) = forward_id {
            id.headers.push((header.clone(), token.clone()));
        }
        if login.forward_access_token {
            id.authorization = match &session.access_token {
                Some(t) => Authorization::Bearer(format!("Bearer {t}")),
                None => Authorization::Remove,
            };
        }
        identity
    }
}
