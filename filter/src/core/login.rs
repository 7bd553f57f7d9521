//! The authorization code flow with PKCE (RFC 6749, RFC 7636, OpenID Connect Core 1.0
//! section 3.1): starting a login, checking the callback, exchanging the code,
//! validating the ID token, and issuing the session.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::config::{CalloutTarget, Config};
use super::cookies;
use super::form;
use super::jwt::{check_claims, decode, Expect, JwtError};
use super::login_config::{ClientAuth, LoginConfig, FLOW_ID_LEN};
use super::pages::Page;
use super::provider::{Metadata, Provider};
use super::redirect::safe_return;
use super::response::LocalResponse;
use super::seal::{random_token, Random};
use super::session::{self, Session, ATTRS};
use super::url::AbsoluteUrl;

/// How long a login may take, from the redirect to the callback.
pub const FLOW_TTL: u64 = 600;
/// Pending logins kept per browser; starting one more drops the oldest.
pub const MAX_FLOWS: usize = 4;
/// The longest original URL kept for the return after login.
pub const MAX_TARGET: usize = 1536;

/// One login in progress, sealed in its own cookie. `Debug` shows no secret.
#[derive(Serialize, Deserialize, Clone, PartialEq)]
pub struct Flow {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// Where the browser goes after login (a same-origin path).
    pub target: String,
    pub created: u64,
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Flow {{ target: {:?}, created: {}, state/nonce/verifier: [redacted] }}", self.target, self.created)
    }
}

/// The request's own origin, for the `redirect_uri`.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub scheme: &'a str,
    pub authority: &'a str,
}

/// An HTTP call the shell makes for the core. `Debug` shows no header values or body
/// (they carry the code, the client secret, tokens).
#[derive(Clone, PartialEq, Eq)]
pub struct Callout {
    pub target: CalloutTarget,
    pub method: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
}

impl std::fmt::Debug for Callout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        write!(f, "Callout {{ {} {:?}, headers: {names:?}, body: [redacted] }}", self.method, self.target)
    }
}

/// Why a login failed. Logged by reason; the person sees a [`Page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    NoMetadata,
    TokenEndpoint { status: Option<u16>, error: Option<String> },
    BadTokenResponse,
    IdToken(JwtError),
    NonceMismatch,
    AzpMismatch,
    MissingSub,
    Userinfo { status: Option<u16> },
    UserinfoSubMismatch,
    SessionTooLarge,
}

impl LoginError {
    pub fn reason(&self) -> String {
        match self {
            LoginError::NoMetadata => "discovery has no usable authorization or token endpoint".into(),
            LoginError::TokenEndpoint { status, error } => {
                format!("token endpoint answered {status:?} {}", error.as_deref().unwrap_or(""))
            }
            LoginError::BadTokenResponse => "token response is not JSON with an id_token".into(),
            LoginError::IdToken(e) => format!("ID token refused: {}", e.reason()),
            LoginError::NonceMismatch => "ID token nonce does not match the login".into(),
            LoginError::AzpMismatch => "ID token azp is not this client".into(),
            LoginError::MissingSub => "ID token has no sub".into(),
            LoginError::Userinfo { status } => format!("userinfo answered {status:?}"),
            LoginError::UserinfoSubMismatch => "userinfo sub differs from the ID token's".into(),
            LoginError::SessionTooLarge => "session too large for the cookie chunks".into(),
        }
    }

    pub fn page(&self) -> (Page, Option<String>) {
        match self {
            LoginError::TokenEndpoint { status: None, .. } | LoginError::Userinfo { status: None } => {
                (Page::IdpUnreachable, None)
            }
            LoginError::TokenEndpoint { error: Some(e), .. } => (Page::LoginFailed, Some(e.clone())),
            _ => (Page::LoginFailed, None),
        }
    }
}

fn sanitize_code(text: &str) -> String {
    text.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').take(64).collect()
}

fn redirect(location: &str, set_cookies: Vec<String>) -> LocalResponse {
    let mut headers = vec![("location", location.to_string()), ("cache-control", "no-store".to_string())];
    headers.extend(set_cookies.into_iter().map(|c| ("set-cookie", c)));
    LocalResponse { status: 302, headers, body: String::new() }
}

/// Starts a login: a 302 to the IdP, and the flow cookie.
pub fn start(
    login: &LoginConfig,
    metadata: &Metadata,
    origin: Origin<'_>,
    target: &str,
    cookie_header: Option<&str>,
    now: u64,
    rng: &mut dyn Random,
) -> Result<LocalResponse, LoginError> {
    let endpoint = metadata.authorization_endpoint.as_deref().ok_or(LoginError::NoMetadata)?;
    AbsoluteUrl::parse(endpoint).map_err(|_| LoginError::NoMetadata)?;
    let flow = Flow {
        state: random_token(rng, 32),
        nonce: random_token(rng, 32),
        verifier: random_token(rng, 32),
        // A long target would push the flow cookie past the 4 KB browsers keep.
        target: if target.len() > MAX_TARGET { "/".to_string() } else { safe_return(target, &[]) },
        created: now,
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(flow.verifier.as_bytes()));
    let name = format!("{}{}", login.flow_prefix, flow.state.get(..FLOW_ID_LEN).unwrap_or(&flow.state));
    let plain = serde_json::to_vec(&flow).map_err(|_| LoginError::SessionTooLarge)?;
    let sealed = login.keys.seal(&name, &plain, rng).ok_or(LoginError::SessionTooLarge)?;
    let mut set_cookies = vec![cookies::set_cookie(&name, &sealed, Some(FLOW_TTL), &ATTRS)];
    set_cookies.extend(drop_old_flows(login, cookie_header, now));
    let redirect_uri = login.redirect_uri_for(origin.scheme, origin.authority);
    let query = form::serialize(&[
        ("response_type", "code"),
        ("client_id", &login.client_id),
        ("redirect_uri", &redirect_uri),
        ("scope", &login.scope),
        ("state", &flow.state),
        ("nonce", &flow.nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    Ok(redirect(&format!("{endpoint}{sep}{query}"), set_cookies))
}

/// Clears flow cookies that are expired or unreadable, and the oldest ones beyond
/// [`MAX_FLOWS`] - 1, so the new flow makes at most [`MAX_FLOWS`].
fn drop_old_flows(login: &LoginConfig, cookie_header: Option<&str>, now: u64) -> Vec<String> {
    let mut live: Vec<(u64, &str)> = Vec::new();
    let mut clear = Vec::new();
    for (name, value) in cookie_header.map(cookies::parse).into_iter().flatten() {
        if !login.is_flow_cookie(name) {
            continue;
        }
        let flow = login.keys.open(name, value).and_then(|p| serde_json::from_slice::<Flow>(&p).ok());
        match flow {
            Some(f) if now < f.created.saturating_add(FLOW_TTL) => live.push((f.created, name)),
            _ => clear.push(name),
        }
    }
    live.sort();
    let excess = live.len().saturating_sub(MAX_FLOWS - 1);
    clear.extend(live.iter().take(excess).map(|(_, n)| *n));
    clear.into_iter().map(|n| cookies::clear_cookie(n, &ATTRS)).collect()
}

/// What the callback leads to.
#[derive(Debug)]
pub enum CallbackOutcome {
    /// Exchange the code: make this callout, then call [`on_token_response`].
    Exchange { flow: Flow, flow_cookie: String, callout: Callout },
    /// Answer at once (a page); `reason` is for the log.
    Respond { response: LocalResponse, reason: String },
}

/// What the callback request carries.
pub struct CallbackRequest<'a> {
    pub origin: Origin<'a>,
    pub query: &'a str,
    pub cookie_header: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub now: u64,
}

/// Checks the callback's `state`, `error` and `iss`, and prepares the code exchange.
pub fn callback(
    config: &Config,
    login: &LoginConfig,
    provider: &Provider,
    req: &CallbackRequest<'_>,
) -> CallbackOutcome {
    let CallbackRequest { origin, query, cookie_header, request_id, now } = *req;
    let page = |p: Page, detail: Option<String>, reason: &str, clear: Option<&str>| {
        let mut response = p.render(detail.as_deref(), request_id, "/");
        if let Some(name) = clear {
            response.headers.push(("set-cookie", cookies::clear_cookie(name, &ATTRS)));
        }
        CallbackOutcome::Respond { response, reason: reason.to_string() }
    };
    let Some(params) = form::parse(query) else {
        return page(Page::InvalidState, None, "callback query is malformed", None);
    };
    let state = form::get(&params, "state").unwrap_or("");
    let Some(flow_id) = state.get(..FLOW_ID_LEN).filter(|_| state.len() >= 32) else {
        return page(Page::InvalidState, None, "callback without a valid state", None);
    };
    let flow_cookie = format!("{}{}", login.flow_prefix, flow_id);
    let flow = cookie_header
        .and_then(|h| cookies::get(h, &flow_cookie))
        .and_then(|v| login.keys.open(&flow_cookie, v))
        .and_then(|p| serde_json::from_slice::<Flow>(&p).ok());
    let Some(flow) = flow.filter(|f| f.state == state) else {
        return page(Page::InvalidState, None, "state matches no login flow cookie", None);
    };
    let clear = Some(flow_cookie.as_str());
    if now >= flow.created.saturating_add(FLOW_TTL) {
        return page(Page::InvalidState, None, "login flow expired", clear);
    }
    if let Some(error) = form::get(&params, "error") {
        return page(Page::IdpError, Some(sanitize_code(error)), "IdP returned an error", clear);
    }
    let Some(metadata) = provider.metadata.as_ref() else {
        return page(Page::IdpUnreachable, None, "no discovery metadata", clear);
    };
    match form::get(&params, "iss") {
        Some(iss) if iss != provider.issuer() => {
            return page(Page::LoginFailed, None, "callback iss names another issuer (RFC 9207)", clear)
        }
        None if metadata.iss_parameter_supported => {
            return page(Page::LoginFailed, None, "callback lacks iss though the IdP sends it (RFC 9207)", clear)
        }
        _ => {}
    }
    let Some(code) = form::get(&params, "code").filter(|c| !c.is_empty()) else {
        return page(Page::LoginFailed, None, "callback without a code", clear);
    };
    let Some(token_url) = metadata.token_endpoint.as_deref().and_then(|u| AbsoluteUrl::parse(u).ok()) else {
        return page(Page::LoginFailed, None, "discovery has no token_endpoint", clear);
    };
    let redirect_uri = login.redirect_uri_for(origin.scheme, origin.authority);
    let mut fields = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", flow.verifier.as_str()),
    ];
    let mut headers = vec![
        ("content-type", "application/x-www-form-urlencoded".to_string()),
        ("accept", "application/json".to_string()),
    ];
    let secret = login.client_secret.as_ref().map(|s| s.expose()).unwrap_or("");
    match login.client_auth {
        ClientAuth::Basic => {
            let pair = format!("{}:{}", form::encode(&login.client_id), form::encode(secret));
            headers.push(("authorization", format!("Basic {}", STANDARD.encode(pair))));
        }
        ClientAuth::Post => {
            fields.push(("client_id", &login.client_id));
            fields.push(("client_secret", secret));
        }
        ClientAuth::None => fields.push(("client_id", &login.client_id)),
    }
    let callout = Callout {
        target: config.clusters.target(&token_url),
        method: "POST",
        headers,
        body: Some(form::serialize(&fields)),
    };
    CallbackOutcome::Exchange { flow, flow_cookie, callout }
}

#[path = "login_finish.rs"]
mod finish;
pub use finish::{finish, on_token_response, on_userinfo_response, AfterToken, Pending};

#[cfg(test)]
#[path = "login_tests.rs"]
mod tests;
