//! The browser-login section, compiled from the top-level keys `session`, `scopes`,
//! `callback_path`, `redirect_uri`, `logout_path`, `post_logout_redirect`, `api_paths` and
//! `allowed_redirect_hosts`. Login is on when `session` is set; every key read here
//! through [`Section::key`] is refused without it, so no separate list can go stale.

use std::time::Duration;

use super::defaults;
use super::errors::Errors;
use super::github::GithubConfig;
use super::raw::{RawConfig, RawSession};
use super::secret::Env;
use crate::core::idp::{Client, ClientAuth};
use crate::core::session::{parse_key, CookieNames, Keys};
use crate::core::shared::revoked::RevocationKeys;
use crate::core::web::{is_local_path, is_normalized, AbsoluteUrl, PathRule};

#[derive(Debug)]
pub struct LoginConfig {
    pub client_id: String,
    /// Space-separated, as sent.
    pub scope: String,
    pub callback_path: String,
    /// A fixed `redirect_uri` (and origin for the logout return); `None`: built from each
    /// request's `:scheme` and `:authority`.
    pub redirect_uri: Option<AbsoluteUrl>,
    pub logout_path: String,
    pub post_logout_redirect: String,
    /// `logout_url`: where logout goes instead of the discovered `end_session_endpoint`,
    /// with `{client_id}` and `{post_logout_redirect}` filled in (URL-encoded).
    pub logout_url: Option<String>,
    /// `authorization_params`: fixed parameters added to every authorization request.
    pub authorization_params: Vec<(String, String)>,
    /// `graph_url`: Microsoft Graph's `getMemberObjects` for the signed-in user, asked at
    /// login when the ID token's groups overflowed.
    pub graph: Option<AbsoluteUrl>,
    pub api_paths: Vec<PathRule>,
    pub allowed_redirect_hosts: Vec<String>,
    /// `forward_access_token`: session requests carry `Authorization: Bearer <access token>`.
    pub forward_access_token: bool,
    /// `forward_id_token.header`: session requests carry the ID token in this header.
    pub forward_id_token: Option<String>,
    /// `backchannel_logout_path`: where the IdP posts logout tokens, and where this
    /// login's revocations live in shared data.
    pub backchannel: Option<BackchannelConfig>,
    pub session: SessionConfig,
}

/// Back-channel logout (OpenID Connect Back-Channel Logout 1.0).
#[derive(Debug)]
pub struct BackchannelConfig {
    pub path: String,
    /// The shared-data keys of this issuer and client's revocations.
    pub keys: RevocationKeys,
}

/// How sessions are sealed, named and timed.
#[derive(Debug)]
pub struct SessionConfig {
    pub keys: Keys,
    pub cookies: CookieNames,
    pub lifetime: Duration,
    /// `None` turns the idle timeout off.
    pub idle_timeout: Option<Duration>,
    /// The ID token is kept in the session (for logout's `id_token_hint`, or to forward it).
    pub keep_id_token: bool,
    /// With `session.refresh`: how long before the access token expires it is renewed.
    pub refresh_margin: Option<Duration>,
}

impl LoginConfig {
    /// The `redirect_uri` for a request from `scheme://authority`.
    pub fn redirect_uri_for(&self, scheme: &str, authority: &str) -> String {
        match &self.redirect_uri {
            Some(u) => u.as_string(),
            None => format!("{scheme}://{authority}{}", self.callback_path),
        }
    }

    /// An absolute URL for a local `path`: on the fixed `redirect_uri`'s origin when there
    /// is one, else on the request's.
    pub fn absolute(&self, scheme: &str, authority: &str, path: &str) -> String {
        match &self.redirect_uri {
            Some(u) => format!("{}://{}{path}", u.scheme, u.authority),
            None => format!("{scheme}://{authority}{path}"),
        }
    }
}

/// Reads login keys, refusing each one given while login is off.
struct Section<'e> {
    errors: &'e mut Errors,
    on: bool,
}

impl Section<'_> {
    fn key<'v, T>(&mut self, field: &str, value: &'v Option<T>) -> Option<&'v T> {
        match value {
            Some(_) if !self.on => {
                self.errors.push(field, "needs \"session\" (browser login is on only with session keys)");
                None
            }
            other => other.as_ref(),
        }
    }
}

pub(super) fn compile(
    raw: &RawConfig,
    client: &Client,
    github: Option<&GithubConfig>,
    env: &dyn Env,
    errors: &mut Errors,
) -> Option<LoginConfig> {
    let mut s = Section { on: raw.session.is_some(), errors };
    if !s.on {
        s.key("client_auth", &raw.client_auth);
    }
    let scope = scopes(&mut s, raw, github);
    let (callback_path, redirect_uri) = callback(&mut s, raw);
    let logout = s.key("logout_path", &raw.logout_path);
    let logout_path = plain_path(s.errors, "logout_path", logout, defaults::LOGOUT_PATH);
    if s.on && callback_path == logout_path {
        s.errors.push("logout_path", "must differ from callback_path");
    }
    let backchannel = backchannel(&mut s, raw, github.is_some(), [&callback_path, &logout_path]);
    let post_logout_redirect = post_logout(&mut s, raw);
    let logout_url = logout_url(&mut s, raw);
    let authorization_params = authorization_params(&mut s, raw);
    let graph = graph(&mut s, raw, github);
    let api_paths = super::path_rules("api_paths", s.key("api_paths", &raw.api_paths), s.errors);
    let allowed_redirect_hosts = redirect_hosts(&mut s, raw);
    let forward_access_token = s.key("forward_access_token", &raw.forward_access_token).copied().unwrap_or(false);
    let forward_id_token = forwarded_id_token(&mut s, raw);
    if github.is_some() && forward_id_token.is_some() {
        s.errors.push("forward_id_token", "GitHub issues no ID token");
    }
    let session = raw.session.as_ref()?;
    let client_id = match &client.id {
        Some(id) => id.clone(),
        None => {
            s.errors.push("client_id", "required for browser login");
            String::new()
        }
    };
    let needs_secret = matches!(client.auth, ClientAuth::Basic | ClientAuth::Post);
    if client.secret.is_none() && needs_secret && raw.client_secret.is_none() {
        s.errors.push("client_secret", "required unless client_auth is \"none\" or \"private_key_jwt\"");
    }
    let mut session = session_config(session, env, s.errors);
    session.keep_id_token |= forward_id_token.is_some();
    Some(LoginConfig {
        client_id,
        scope,
        callback_path,
        redirect_uri,
        logout_path,
        post_logout_redirect,
        logout_url,
        authorization_params,
        graph,
        api_paths,
        allowed_redirect_hosts,
        forward_access_token,
        forward_id_token,
        backchannel,
        session,
    })
}

/// `backchannel_logout_path`: a plain path of its own; GitHub sends no logout tokens.
fn backchannel(s: &mut Section<'_>, raw: &RawConfig, github: bool, taken: [&String; 2]) -> Option<BackchannelConfig> {
    let path = s.key("backchannel_logout_path", &raw.backchannel_logout_path)?;
    let path = plain_path(s.errors, "backchannel_logout_path", Some(path), "/oauth2/backchannel-logout");
    if taken.contains(&&path) {
        s.errors.push("backchannel_logout_path", "must differ from callback_path and logout_path");
    }
    if github {
        s.errors.push("backchannel_logout_path", "GitHub sends no logout tokens");
    }
    let scope = format!("{}\n{}", raw.issuer.as_deref().unwrap_or(""), raw.client_id.as_deref().unwrap_or(""));
    Some(BackchannelConfig { path, keys: RevocationKeys::new(&scope) })
}

fn forwarded_id_token(s: &mut Section<'_>, raw: &RawConfig) -> Option<String> {
    let header = &s.key("forward_id_token", &raw.forward_id_token)?.header;
    if let Err(e) = crate::core::identity::check_header_name(header) {
        s.errors.push("forward_id_token.header", e);
    }
    Some(header.clone())
}

/// The scopes asked for: OpenID Connect needs `openid`; GitHub knows no such scope.
fn scopes(s: &mut Section<'_>, raw: &RawConfig, github: Option<&GithubConfig>) -> String {
    let default: Vec<String> = match github {
        Some(g) => g.default_scopes(),
        None => defaults::SCOPES.iter().map(|x| x.to_string()).collect(),
    };
    let scopes = s.key("scopes", &raw.scopes).unwrap_or(&default);
    if github.is_none() && !scopes.iter().any(|x| x == "openid") {
        s.errors.push("scopes", "must include \"openid\"");
    }
    if scopes.iter().any(|x| x.is_empty() || x.bytes().any(|b| b <= b' ' || b == b'"' || b == b'\\')) {
        s.errors.push("scopes", "scope names must be non-empty, without spaces or quotes");
    }
    scopes.join(" ")
}

/// `callback_path` and `redirect_uri`: with a fixed redirect URI, its path is the callback.
fn callback(s: &mut Section<'_>, raw: &RawConfig) -> (String, Option<AbsoluteUrl>) {
    let redirect_uri = match s.key("redirect_uri", &raw.redirect_uri).map(|u| AbsoluteUrl::parse_config(u)) {
        None => None,
        Some(Ok(u)) if !u.path_and_query.contains('?') => Some(u),
        Some(_) => {
            s.errors.push(
                "redirect_uri",
                "must be an absolute http(s) URL without query, like https://app.example.com/oauth2/callback",
            );
            None
        }
    };
    let fixed = redirect_uri.as_ref().map(|u| u.path_and_query.clone());
    let callback_path = match (s.key("callback_path", &raw.callback_path), fixed) {
        (Some(p), Some(d)) if *p != d => {
            s.errors.push("callback_path", "differs from the path of redirect_uri");
            p.clone()
        }
        (None, Some(d)) => plain_path(s.errors, "redirect_uri", Some(&d), defaults::CALLBACK_PATH),
        (given, _) => plain_path(s.errors, "callback_path", given, defaults::CALLBACK_PATH),
    };
    (callback_path, redirect_uri)
}

fn plain_path(errors: &mut Errors, field: &str, value: Option<&String>, default: &str) -> String {
    let path = value.map_or(default, String::as_str);
    if !path.starts_with('/') || path.contains(['?', '#', ' ']) || !is_normalized(path) {
        errors.push(field, format!("must be a plain absolute path like {default:?}"));
    }
    path.to_string()
}

fn post_logout(s: &mut Section<'_>, raw: &RawConfig) -> String {
    let target =
        s.key("post_logout_redirect", &raw.post_logout_redirect).map_or(defaults::POST_LOGOUT_REDIRECT, String::as_str);
    if !is_local_path(target) && AbsoluteUrl::parse_config(target).is_err() {
        s.errors.push("post_logout_redirect", "must be a local path like \"/\" or an absolute http(s) URL");
    }
    target.to_string()
}

/// The placeholders of `logout_url`.
pub const LOGOUT_PLACEHOLDERS: [&str; 2] = ["{client_id}", "{post_logout_redirect}"];

/// `logout_url`: an absolute URL once its placeholders are filled, no other `{…}`.
fn logout_url(s: &mut Section<'_>, raw: &RawConfig) -> Option<String> {
    let template = s.key("logout_url", &raw.logout_url)?;
    let filled = LOGOUT_PLACEHOLDERS.iter().fold(template.clone(), |t, p| t.replace(p, "x"));
    if AbsoluteUrl::parse(&filled).is_err() || filled.contains(['{', '}']) {
        s.errors
            .push("logout_url", "must be an absolute http(s) URL; placeholders: {client_id}, {post_logout_redirect}");
    }
    Some(template.clone())
}

/// What the filter itself sends on an authorization request, and what would change that
/// request or publish a credential: never taken from `authorization_params`, in any case
/// (some servers read the query case-insensitively). A request object (`request`,
/// `request_uri`) supersedes the query's parameters (OpenID Connect Core 6.1, RFC 9101
/// section 5); `response_mode` moves the code where the callback does not read it; a client
/// credential in the authorization request reaches every browser.
const OWN_PARAMS: [&str; 14] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "request",
    "request_uri",
    "response_mode",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

fn authorization_params(s: &mut Section<'_>, raw: &RawConfig) -> Vec<(String, String)> {
    let Some(params) = s.key("authorization_params", &raw.authorization_params) else { return Vec::new() };
    for (name, value) in params {
        let field = format!("authorization_params.{name}");
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            s.errors.push(field, "is not a parameter name (letters, digits, '-', '_', '.')");
        } else if OWN_PARAMS.iter().any(|own| own.eq_ignore_ascii_case(name)) {
            s.errors.push(field, "is set by the filter itself or changes its request (scopes go in \"scopes\")");
        } else if value.is_empty() || value.chars().any(char::is_control) {
            s.errors.push(field, "must be a non-empty value without control characters");
        }
    }
    params.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// `graph_url`: `https://graph.microsoft.com` (or a national cloud's), without a path.
fn graph(s: &mut Section<'_>, raw: &RawConfig, github: Option<&GithubConfig>) -> Option<AbsoluteUrl> {
    let base = s.key("graph_url", &raw.graph_url)?;
    if github.is_some() {
        s.errors.push("graph_url", "reads Microsoft Entra ID groups; GitHub has none");
    }
    let url = AbsoluteUrl::parse(&format!("{}/v1.0/me/getMemberObjects", base.trim_end_matches('/')));
    match url {
        Ok(u) if AbsoluteUrl::parse(base).is_ok_and(|b| b.path_and_query == "/" || b.path_and_query.is_empty()) => {
            Some(u)
        }
        _ => {
            s.errors
                .push("graph_url", "must be an absolute http(s) URL without a path, like https://graph.microsoft.com");
            None
        }
    }
}

fn redirect_hosts(s: &mut Section<'_>, raw: &RawConfig) -> Vec<String> {
    let hosts = s.key("allowed_redirect_hosts", &raw.allowed_redirect_hosts).cloned().unwrap_or_default();
    for (n, host) in hosts.iter().enumerate() {
        if host.is_empty() || host.contains(['/', '@', '\\', ' ']) {
            s.errors.push(format!("allowed_redirect_hosts[{n}]"), "must be a host or host:port");
        }
    }
    hosts.iter().map(|h| h.to_ascii_lowercase()).collect()
}

fn session_config(raw: &RawSession, env: &dyn Env, errors: &mut Errors) -> SessionConfig {
    let mut keys = Vec::new();
    if raw.keys.is_empty() {
        errors.push("session.keys", "required: at least one 32-byte base64 key (the first seals, all open)");
    }
    for (n, source) in raw.keys.iter().enumerate() {
        let field = format!("session.keys[{n}]");
        if let Some(secret) = errors.secret(&field, source, env) {
            match parse_key(secret.expose()) {
                Ok(k) => keys.push(k),
                Err(e) => errors.push(field, e),
            }
        }
    }
    let cookie_name = raw.cookie_name.as_deref().unwrap_or(defaults::COOKIE_NAME);
    let cookies = CookieNames::new(cookie_name).unwrap_or_else(|e| {
        errors.push("session.cookie_name", e);
        CookieNames::default()
    });
    let lifetime = errors.duration("session.lifetime", &raw.lifetime, defaults::LIFETIME);
    if lifetime < Duration::from_secs(1) {
        errors.push("session.lifetime", "must be at least 1s");
    }
    let idle_timeout = errors.duration("session.idle_timeout", &raw.idle_timeout, defaults::IDLE_TIMEOUT);
    let margin = errors.duration("session.refresh_margin", &raw.refresh_margin, defaults::REFRESH_MARGIN);
    if raw.refresh_margin.is_some() && raw.refresh != Some(true) {
        errors.push("session.refresh_margin", "needs \"refresh\": true");
    }
    SessionConfig {
        keys: Keys::new(&keys),
        cookies,
        lifetime,
        idle_timeout: (idle_timeout.as_secs() > 0).then_some(idle_timeout),
        keep_id_token: raw.keep_id_token.unwrap_or(defaults::KEEP_ID_TOKEN),
        refresh_margin: (raw.refresh == Some(true)).then_some(margin),
    }
}
