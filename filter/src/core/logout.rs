//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

use super::cookies;
use super::form;
use super::login::Origin;
use super::login_config::LoginConfig;
use super::provider::Metadata;
use super::redirect::is_local_path;
use super::response::LocalResponse;
use super::session::{self, SessionState, ATTRS};

/// Clears every filter cookie the browser sent, then goes through the IdP's
/// `end_session_endpoint` when it has one, else straight to `post_logout_redirect`.
pub fn logout(
    login: &LoginConfig,
    metadata: Option<&Metadata>,
    origin: Origin<'_>,
    cookie_header: Option<&str>,
    now: u64,
) -> LocalResponse {
    let id_token = match session::read(login, cookie_header, now) {
        SessionState::Valid { session, .. } => session.id_token,
        _ => None,
    };
    let mut names: Vec<&str> = cookie_header
        .map(|h| cookies::parse(h).map(|(n, _)| n).filter(|n| login.owns_cookie(n)).collect())
        .unwrap_or_default();
    if !names.contains(&login.cookie_name.as_str()) {
        names.push(&login.cookie_name);
    }
    let back = if is_local_path(&login.post_logout_redirect) {
        origin.url(&login.post_logout_redirect)
    } else {
        login.post_logout_redirect.clone()
    };
    let location = match metadata.and_then(|m| m.end_session_endpoint.as_deref()) {
        Some(endpoint) => {
            let mut params = vec![("client_id", login.client_id.as_str()), ("post_logout_redirect_uri", back.as_str())];
            if let Some(t) = id_token.as_deref() {
                params.push(("id_token_hint", t));
            }
            let sep = if endpoint.contains('?') { '&' } else { '?' };
            format!("{endpoint}{sep}{}", form::serialize(&params))
        }
        None => login.post_logout_redirect.clone(),
    };
    let mut headers = vec![("location", location), ("cache-control", "no-store".to_string())];
    headers.extend(names.iter().map(|n| ("set-cookie", cookies::clear_cookie(n, &ATTRS))));
    LocalResponse { status: 302, headers, body: String::new() }
}
