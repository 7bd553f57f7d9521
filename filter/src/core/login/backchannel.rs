//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the IdP posts a
//! `logout_token` (form-encoded) to `backchannel_logout_path`. It is validated fully
//! (section 2.6): signature by the issuer's keys, `iss`, `aud` = `client_id`, `iat` within
//! the clock skew, `exp` when present, JOSE `typ` `logout+jwt` or `JWT` when present, the
//! back-channel logout event, a `sid` or a `sub`, no `nonce`, and a `jti`, which the shared
//! list then refuses to see twice. Anyone can post here: nothing is fetched for a token
//! (an unknown `kid` is refused, never a reason to re-fetch the keys), and nothing is kept
//! for a token that does not verify.

use std::fmt;

use serde_json::Value;

use super::callback::LoginContext;
use crate::core::shared::revoked::{key, Kind, Logout};
use crate::core::token::jwt::numeric_date;
use crate::core::token::{decode, JwtError};
use crate::core::web::form;

/// The `events` member that makes a JWT a logout token.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The longest request body read (a 16 KiB token, form-encoded, with room to spare).
pub const MAX_BODY: usize = 20 * 1024;

/// Why a back-channel logout request is refused (each a 400, but for the method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutError {
    NotPost,
    NotForm,
    /// The body is too large, not a form, or has no single `logout_token`.
    NoToken,
    /// The IdP's keys have not loaded yet.
    NoKeys,
    /// Signature, algorithm, `iss`, `aud` or the token's shape.
    Token(JwtError),
    WrongType,
    /// `iat` missing, or further from now than the clock skew.
    Stale,
    Expired,
    NoEvent,
    /// Neither `sid` nor `sub`.
    NoSubject,
    Nonce,
    NoJti,
    Replayed,
    /// The shared list could not be changed (other workers writing): try again.
    Busy,
}

impl LogoutError {
    pub fn description(self) -> &'static str {
        match self {
            LogoutError::NotPost => "Use POST",
            LogoutError::NotForm => "The body must be application/x-www-form-urlencoded",
            LogoutError::NoToken => "The body must carry one logout_token",
            LogoutError::NoKeys => "The identity provider's keys are not loaded yet",
            LogoutError::Token(e) => token_description(e),
            LogoutError::WrongType => "The token's typ is neither logout+jwt nor JWT",
            LogoutError::Stale => "The logout token's iat is missing or too far from now",
            LogoutError::Expired => "The logout token expired",
            LogoutError::NoEvent => "The logout token lacks the back-channel logout event",
            LogoutError::NoSubject => "The logout token names neither sid nor sub",
            LogoutError::Nonce => "A logout token must not carry a nonce",
            LogoutError::NoJti => "The logout token has no jti",
            LogoutError::Replayed => "The logout token was already used",
            LogoutError::Busy => "The logout could not be recorded; try again",
        }
    }
}

fn token_description(e: JwtError) -> &'static str {
    match e {
        JwtError::UnknownIssuer => "The logout token's issuer is not the login issuer",
        JwtError::WrongAudience => "The logout token is not meant for this client",
        JwtError::UnknownKey => "The logout token is signed by an unknown key",
        JwtError::BadSignature => "The logout token's signature is invalid",
        JwtError::DisallowedAlg => "The logout token's signing algorithm is not allowed",
        _ => "The logout token is malformed",
    }
}

impl fmt::Display for LogoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// The `logout_token` of a request body.
pub fn token_of(body: &[u8]) -> Result<String, LogoutError> {
    let text = std::str::from_utf8(body).map_err(|_| LogoutError::NoToken)?;
    let params = form::parse_within(text, MAX_BODY).ok_or(LogoutError::NoToken)?;
    let token = form::get(&params, "logout_token").filter(|t| !t.is_empty()).ok_or(LogoutError::NoToken)?;
    Ok(token.to_string())
}

/// Validates a logout token; what it ends, to record for every worker.
pub fn validate(ctx: &LoginContext<'_>, token: &str, now_s: u64) -> Result<Logout, LogoutError> {
    let keys = ctx.provider.keys.clone().ok_or(LogoutError::NoKeys)?;
    let jwt = decode(token, ctx.config.bearer.algorithms).and_then(|t| t.verify(&keys)).map_err(LogoutError::Token)?;
    let typ = jwt.typ().map(|t| t.strip_prefix("application/").unwrap_or(t));
    // `JWT` too: Keycloak and others do not type their logout tokens (the spec allows it);
    // the logout event and the absent `nonce` tell them from ID and access tokens.
    if typ.is_some_and(|t| !t.eq_ignore_ascii_case("logout+jwt") && !t.eq_ignore_ascii_case("JWT")) {
        return Err(LogoutError::WrongType);
    }
    let claims = jwt.claims();
    if claims.get("iss").and_then(Value::as_str) != Some(ctx.provider.issuer()) {
        return Err(LogoutError::Token(JwtError::UnknownIssuer));
    }
    if !jwt.for_audience(std::slice::from_ref(&ctx.login.client_id)) {
        return Err(LogoutError::Token(JwtError::WrongAudience));
    }
    let skew = ctx.config.clock_skew.as_secs();
    let date = |name| numeric_date(claims, name).map_err(|_| LogoutError::Token(JwtError::Malformed));
    let iat = date("iat")?.ok_or(LogoutError::Stale)?;
    if iat.saturating_add(skew) < now_s || iat > now_s.saturating_add(skew) {
        return Err(LogoutError::Stale);
    }
    if date("exp")?.is_some_and(|exp| now_s > exp.saturating_add(skew)) {
        return Err(LogoutError::Expired);
    }
    let event = claims.get("events").and_then(Value::as_object).and_then(|e| e.get(EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err(LogoutError::NoEvent);
    }
    if claims.contains_key("nonce") {
        return Err(LogoutError::Nonce);
    }
    let text = |name| match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.as_str())),
        Some(_) => Err(LogoutError::Token(JwtError::Malformed)),
    };
    let (sid, sub) = (text("sid")?, text("sub")?);
    let ends = match (sid, sub) {
        (Some(sid), Some(sub)) => {
            vec![(Kind::Sid, key(Kind::Sid, sid)), (Kind::SidlessSub, key(Kind::SidlessSub, sub))]
        }
        (Some(sid), None) => vec![(Kind::Sid, key(Kind::Sid, sid))],
        (None, Some(sub)) => vec![(Kind::Sub, key(Kind::Sub, sub))],
        (None, None) => return Err(LogoutError::NoSubject),
    };
    let jti = text("jti")?.ok_or(LogoutError::NoJti)?;
    Ok(Logout {
        jti: key(Kind::Jti, jti),
        iat,
        // Refused by its `iat` after this anyway.
        jti_until: iat.saturating_add(skew).max(now_s).saturating_add(1),
        ends,
        until: now_s.saturating_add(ctx.login.session.lifetime.as_secs()),
        sub: sub.map(|sub| key(Kind::Sub, sub)),
    })
}
