//! Starting a login: a 302 to the IdP's authorization endpoint with `state`, `nonce` and
//! a PKCE S256 challenge, and the sealed flow cookie.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::flow::{drop_old_flows, Flow};
use super::LoginError;
use crate::core::authz::StepUp;
use crate::core::config::LoginConfig;
use crate::core::idp::Metadata;
use crate::core::rand::Random;
use crate::core::web::{form, AbsoluteUrl, LocalResponse, Origin};

/// What a login asks of the IdP beyond signing in: the route's step-up (`acr_values`,
/// `max_age`), and, for a session that lacks it, to sign in again (`prompt=login`) with
/// the callback checking that the new ID token meets it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ask<'a> {
    pub step_up: Option<&'a StepUp>,
    pub again: bool,
}

/// The request a browser is sent to the IdP with.
pub struct Start<'a> {
    pub origin: &'a Origin,
    /// Where the browser returns after the login.
    pub target: &'a str,
    pub cookie_header: Option<&'a str>,
    pub ask: Ask<'a>,
}

/// The redirect to the IdP that starts a login returning to `target`.
pub fn start(
    login: &LoginConfig,
    metadata: &Metadata,
    req: &Start<'_>,
    now_s: u64,
    rng: &mut dyn Random,
) -> Result<LocalResponse, LoginError> {
    let Start { origin, target, cookie_header, ask } = *req;
    let endpoint = metadata.authorization_endpoint.as_deref().ok_or(LoginError::NoEndpoint)?;
    AbsoluteUrl::parse(endpoint).map_err(|_| LoginError::NoEndpoint)?;
    let mut flow = Flow::new(target, now_s, rng);
    flow.step_up = ask.step_up.filter(|_| ask.again).cloned();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(flow.verifier.as_bytes()));
    let mut set_cookies = vec![flow.set_cookie(&login.session, rng).ok_or(LoginError::SessionTooLarge)?];
    set_cookies.extend(drop_old_flows(&login.session, cookie_header, now_s));
    let redirect_uri = login.redirect_uri_for(origin.scheme, &origin.authority);
    let (acr, max_age) = match ask.step_up {
        Some(s) => (s.acr_param(), s.max_age.map(|m| m.to_string())),
        None => (None, None),
    };
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", &login.client_id),
        ("redirect_uri", &redirect_uri),
        ("scope", &login.scope),
        ("state", &flow.state),
        ("nonce", &flow.nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    params.extend(acr.as_deref().map(|a| ("acr_values", a)));
    params.extend(max_age.as_deref().map(|m| ("max_age", m)));
    if ask.again {
        params.push(("prompt", "login"));
    }
    // `authorization_params`: Auth0's `audience`, Google's `hd`, Entra's `domain_hint`;
    // a step-up's own `acr_values`, `max_age` and `prompt` win over fixed ones.
    let set_here: Vec<&str> = params.iter().map(|(k, _)| *k).collect();
    let fixed: Vec<(&str, &str)> = login
        .authorization_params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .filter(|(k, _)| !set_here.contains(k))
        .collect();
    params.extend(fixed);
    let query = form::serialize(&params);
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    Ok(LocalResponse::redirect(format!("{endpoint}{sep}{query}"), set_cookies))
}
