//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

use super::cookies;
use super::form;
use super::login::Origin;
use super::login_config::LoginConfig;
use super::provider::Metadata;
use super::redirect::is_local_path;
use super::response::LocalResponse;
use super::session::{self, SessionState, ATTRS};

/// Whether a logout request may proceed: from this origin, or typed in (no
/// `Sec-Fetch-Site` means a client that does not send it). A link or form on another
/// site gets [`confirm_page`] instead, so a third party cannot sign users out.
pub fn allowed(sec_fetch_site: Option<&str>) -> bool {
    matches!(sec_fetch_site, None | Some("same-origin") | Some("none"))
}

/// A page with a button that posts the logout from this origin.
pub fn confirm_page(login: &LoginConfig) -> LocalResponse {
    let action = super::pages::escape(&login.logout_path);
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign out?</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}}</style></head>\
<body><h1>Sign out?</h1><p>Another site asked to sign you out.</p>\
<form method=\"post\" action=\"{action}\"><button type=\"submit\">Sign out</button></form></body></html>"
    );
    LocalResponse {
        status: 200,
        headers: vec![
            ("content-type", "text/html; charset=utf-8".to_string()),
            ("cache-control", "no-store".to_string()),
            (
                "content-security-policy",
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'".to_string(),
            ),
            ("x-frame-options", "DENY".to_string()),
        ],
        body,
    }
}

/// The names of the filter's cookies in a `Cookie` header, by their exact shapes
/// (session, its numbered chunks, login flows): only these are echoed into a clearing
/// `Set-Cookie`.
pub fn own_cookie_names<'a>(login: &LoginConfig, cookie_header: Option<&'a str>) -> Vec<&'a str> {
    cookie_header
        .map(|h| {
            cookies::parse(h)
                .map(|(n, _)| n)
                .filter(|n| login.is_session_cookie(n) || login.is_flow_cookie(n))
                .collect()
        })
        .unwrap_or_default()
}

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
    let mut names = own_cookie_names(login, cookie_header);
    if !names.contains(&login.cookie_name.as_str()) {
        names.push(&login.cookie_name);
    }
    let back = if is_local_path(&login.post_logout_redirect) {
        login.absolute(origin.scheme, origin.authority, &login.post_logout_redirect)
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
