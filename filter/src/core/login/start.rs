//! Starting a login: a 302 to the IdP's authorization endpoint with `state`, `nonce` and
//! a PKCE S256 challenge, and the sealed flow cookie.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::flow::{drop_old_flows, Flow};
use super::LoginError;
use crate::core::config::LoginConfig;
use crate::core::idp::Metadata;
use crate::core::rand::Random;
use crate::core::web::{form, AbsoluteUrl, LocalResponse, Origin};

/// The redirect to the IdP that starts a login returning to `target`.
pub fn start(
    login: &LoginConfig,
    metadata: &Metadata,
    origin: &Origin,
    target: &str,
    cookie_header: Option<&str>,
    now_s: u64,
    rng: &mut dyn Random,
) -> Result<LocalResponse, LoginError> {
    let endpoint = metadata.authorization_endpoint.as_deref().ok_or(LoginError::NoEndpoint)?;
    AbsoluteUrl::parse(endpoint).map_err(|_| LoginError::NoEndpoint)?;
    let flow = Flow::new(target, now_s, rng);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(flow.verifier.as_bytes()));
    let mut set_cookies = vec![flow.set_cookie(&login.session, rng).ok_or(LoginError::SessionTooLarge)?];
    set_cookies.extend(drop_old_flows(&login.session, cookie_header, now_s));
    let redirect_uri = login.redirect_uri_for(origin.scheme, &origin.authority);
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
    // `authorization_params`: Auth0's `audience`, Google's `hd`, Entra's `domain_hint`.
    params.extend(login.authorization_params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let query = form::serialize(&params);
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    Ok(LocalResponse::redirect(format!("{endpoint}{sep}{query}"), set_cookies))
}
