//! Renewing a session's access token with its refresh token (RFC 6749 section 6): what a
//! renewed session holds, and how one worker's outcome reaches the others (sealed under
//! the session keys, in a shared slot keyed by the refresh token's hash).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::Session;
use crate::core::config::SessionConfig;
use crate::core::idp::token_endpoint::TokenResponse;
use crate::core::rand::Random;
use crate::core::shared::flight::Id;
use crate::core::token::b64token;

/// When the token endpoint says nothing of the access token's expiry, it is treated as
/// expiring after this: the grant is still checked that often, so revoking it at the IdP
/// still ends the session.
pub const UNKNOWN_EXPIRY: std::time::Duration = std::time::Duration::from_secs(300);

/// Associated data of a sealed renewed session in shared data (never a cookie name).
const SHARED_AAD: &str = "oidc-gate/refreshed-session";

/// The shared slot's id of a refresh token (a hash: the token never leaves the session).
pub fn id_of(refresh_token: &str) -> Id {
    let digest = Sha256::digest(refresh_token.as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
    id
}

/// The session after a successful refresh: the new tokens (a refresh token the IdP did
/// not rotate stays), the claims of the new ID token when there is one (claims it lacks
/// stay as they were, such as userinfo's), and `seen` now. Lifetime and login time stay.
pub fn renewed(
    old: &Session,
    tokens: &TokenResponse,
    id_claims: Option<Map<String, Value>>,
    keep_access_token: bool,
    keep_id_token: bool,
    now_s: u64,
) -> Session {
    let mut new = old.clone();
    if let Some(rt) = tokens.refresh_token.as_ref().filter(|t| b64token(t)) {
        new.refresh_token = Some(rt.clone());
    }
    if keep_access_token {
        new.access_token = tokens.access_token.clone().filter(|t| b64token(t));
    }
    new.access_exp = Some(tokens.access_exp(now_s).unwrap_or(now_s.saturating_add(UNKNOWN_EXPIRY.as_secs())));
    if let Some(claims) = id_claims {
        // `email` and `email_verified` are one pair: a new ID token with either replaces both.
        if claims.contains_key("email") || claims.contains_key("email_verified") {
            new.claims.remove("email");
            new.claims.remove("email_verified");
        }
        for (k, v) in claims {
            new.claims.insert(k, v);
        }
        if keep_id_token {
            new.id_token = tokens.id_token.clone();
        }
    }
    new.seen = now_s;
    new.renewals = old.renewals.saturating_add(1);
    new
}

/// A renewed session sealed for the other workers, bound to its refresh token's id.
pub fn seal(config: &SessionConfig, id: &Id, session: &Session, rng: &mut dyn Random) -> Option<Vec<u8>> {
    let plain = serde_json::to_vec(session).ok()?;
    config.keys.seal(&aad(id), &plain, rng).map(String::into_bytes)
}

/// Opens what another worker sealed for this refresh token's id; `None` for anything else.
pub fn open(config: &SessionConfig, id: &Id, sealed: &[u8]) -> Option<Session> {
    let text = std::str::from_utf8(sealed).ok()?;
    serde_json::from_slice(&config.keys.open(&aad(id), text)?).ok()
}

/// Whether a renewed session continues this very login (same person, same login time).
pub fn same_login(renewed: &Session, session: &Session) -> bool {
    renewed.sub == session.sub && renewed.iat == session.iat
}

fn aad(id: &Id) -> String {
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    format!("{SHARED_AAD}/{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing::{login_config, session, FixedRng};
    use serde_json::json;

    #[test]
    fn a_renewed_session_keeps_who_and_how_long_and_takes_the_new_tokens() {
        let cfg = login_config(json!({"session": {"keys": [crate::core::testing::session_key(1)], "refresh": true}}));
        let config = &cfg.login.as_ref().unwrap().session;
        let mut old = session(1000, json!({"email": "a@x", "groups": ["g"]}));
        old.refresh_token = Some("rt-1".into());
        old.access_exp = Some(1300);
        let tokens: TokenResponse = serde_json::from_value(
            json!({"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 300, "id_token": "idt"}),
        )
        .unwrap();
        let new = renewed(&old, &tokens, Some(json!({"email": "b@x"}).as_object().unwrap().clone()), true, true, 1290);
        assert_eq!((new.sub.as_str(), new.iat, new.exp), ("alice", 1000, old.exp));
        assert_eq!(
            (new.refresh_token.as_deref(), new.access_token.as_deref(), new.access_exp, new.seen),
            (Some("rt-2"), Some("at-2"), Some(1590), 1290)
        );
        assert_eq!(new.claims.get("email"), Some(&json!("b@x")));
        assert_eq!(new.claims.get("groups"), Some(&json!(["g"])), "claims the new ID token lacks stay");
        assert_eq!(new.id_token.as_deref(), Some("idt"));
        // Not rotated: the refresh token stays.
        let same: TokenResponse = serde_json::from_value(json!({"access_token": "at-3", "expires_in": 60})).unwrap();
        assert_eq!(renewed(&old, &same, None, false, true, 1290).refresh_token.as_deref(), Some("rt-1"));
        // No expiry said: still renewed again before long (so revocation still bites).
        let no_exp: TokenResponse = serde_json::from_value(json!({"access_token": "at-4"})).unwrap();
        assert_eq!(renewed(&old, &no_exp, None, false, true, 1290).access_exp, Some(1290 + UNKNOWN_EXPIRY.as_secs()));
        // A new email without email_verified does not inherit the old verification.
        let mut verified = old.clone();
        verified.claims.insert("email_verified".into(), json!(true));
        let new_email = json!({"email": "ceo@example.com"}).as_object().unwrap().clone();
        let r = renewed(&verified, &same, Some(new_email), false, true, 1290);
        assert_eq!((r.claims.get("email"), r.claims.get("email_verified")), (Some(&json!("ceo@example.com")), None));
        // Sealed for the other workers, it opens to the same session; nothing else opens.
        let id = id_of("rt-1");
        let sealed = seal(config, &id, &new, &mut FixedRng(0)).unwrap();
        assert_eq!(open(config, &id, &sealed), Some(new.clone()));
        assert_eq!(open(config, &id_of("rt-other"), &sealed), None, "bound to its refresh token");
        assert_eq!(open(config, &id, b"garbage"), None);
        assert!(same_login(&new, &old));
        assert_ne!(id_of("rt-1"), id_of("rt-2"));
    }
}
