//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

use crate::core::config::LoginConfig;
use crate::core::idp::Metadata;
use crate::core::session::cookie::ATTRS;
use crate::core::session::{self, SessionState};
use crate::core::web::{cookies, form, is_local_path, LocalResponse, Origin};

/// Whether a logout request may proceed: from this origin, or typed in (no
/// `Sec-Fetch-Site` means a client that does not send it). A link or form on another
/// site gets the confirmation page instead, so a third party cannot sign users out.
pub fn allowed(sec_fetch_site: Option<&str>) -> bool {
    matches!(sec_fetch_site, None | Some("same-origin") | Some("none"))
}

/// Clears every filter cookie the browser sent, then goes through the IdP's
/// `end_session_endpoint` when it has one, else straight to `post_logout_redirect`.
pub fn logout(
    login: &LoginConfig,
    metadata: Option<&Metadata>,
    origin: &Origin,
    cookie_header: Option<&str>,
    now_s: u64,
) -> LocalResponse {
    let id_token = match session::read(&login.session, cookie_header, now_s) {
        SessionState::Valid { session, .. } => session.id_token,
        _ => None,
    };
    let names = &login.session.cookies;
    let mut clear = names.ours_in(cookie_header);
    if !clear.contains(&names.session()) {
        clear.push(names.session());
    }
    let back = if is_local_path(&login.post_logout_redirect) {
        login.absolute(origin.scheme, &origin.authority, &login.post_logout_redirect)
    } else {
        login.post_logout_redirect.clone()
    };
    let location = match (&login.logout_url, metadata.and_then(|m| m.end_session_endpoint.as_deref())) {
        // The IdP's own logout (Auth0's /v2/logout, Cognito's /logout): its parameters.
        (Some(template), _) => fill_logout_url(template, &login.client_id, &back),
        (None, Some(endpoint)) => {
            let mut params = vec![("client_id", login.client_id.as_str()), ("post_logout_redirect_uri", back.as_str())];
            if let Some(t) = id_token.as_deref() {
                params.push(("id_token_hint", t));
            }
            let sep = if endpoint.contains('?') { '&' } else { '?' };
            format!("{endpoint}{sep}{}", form::serialize(&params))
        }
        (None, None) => login.post_logout_redirect.clone(),
    };
    LocalResponse::redirect(location, clear.iter().map(|n| cookies::clear_cookie(n, &ATTRS)).collect())
}

/// `logout_url` with `{client_id}` and `{post_logout_redirect}` replaced by their values,
/// URL-encoded (a value never adds a parameter or changes the path).
pub fn fill_logout_url(template: &str, client_id: &str, back: &str) -> String {
    template.replace("{client_id}", &form::encode(client_id)).replace("{post_logout_redirect}", &form::encode(back))
}
