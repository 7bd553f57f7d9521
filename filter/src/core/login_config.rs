//! The browser-login part of the configuration, compiled from the top-level keys
//! `scopes`, `client_auth`, `callback_path`, `logout_path`, `post_logout_redirect`,
//! `session`, `api_paths` and `allowed_redirect_hosts`. Login is on when `session` is set.

use std::time::Duration;

use super::config::{Errors, RawConfig};
use super::rules::PathRule;
use super::seal::{parse_key, Keys};
use super::secret::{Env, Secret};
use super::url::AbsoluteUrl;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret (RFC 6749 section 2.3.1).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
    /// A public client: PKCE only.
    None,
}

#[derive(Debug)]
pub struct LoginConfig {
    pub client_id: String,
    pub client_auth: ClientAuth,
    pub client_secret: Option<Secret>,
    /// Space-separated, as sent.
    pub scope: String,
    pub callback_path: String,
    /// A fixed `redirect_uri` (and origin for the logout return); `None`: built from each
    /// request's `:scheme` and `:authority`.
    pub redirect_uri: Option<AbsoluteUrl>,
    pub logout_path: String,
    pub post_logout_redirect: String,
    pub keys: Keys,
    pub cookie_name: String,
    /// `<cookie_name>_flow_`: login flow cookies are this and an id.
    pub flow_prefix: String,
    pub lifetime: u64,
    /// 0 disables the idle timeout.
    pub idle_timeout: u64,
    pub keep_id_token: bool,
    pub api_paths: Vec<PathRule>,
    pub allowed_redirect_hosts: Vec<String>,
}

/// Characters of a login's `state` in its flow cookie's name.
pub const FLOW_ID_LEN: usize = 16;

impl LoginConfig {
    /// Whether a cookie name is in the filter's namespace (`<cookie_name>` or
    /// `<cookie_name>_…`): such cookies never go upstream.
    pub fn owns_cookie(&self, name: &str) -> bool {
        name.strip_prefix(self.cookie_name.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
    }

    /// The session cookie or one of its numbered chunks, exactly.
    pub fn is_session_cookie(&self, name: &str) -> bool {
        name.strip_prefix(self.cookie_name.as_str()).is_some_and(|rest| {
            rest.is_empty()
                || rest.strip_prefix('_').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
    }

    /// A login flow cookie, exactly: the flow prefix and [`FLOW_ID_LEN`] base64url characters.
    pub fn is_flow_cookie(&self, name: &str) -> bool {
        name.strip_prefix(self.flow_prefix.as_str()).is_some_and(|id| {
            id.len() == FLOW_ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    }

    /// The `redirect_uri` for a request from `origin`.
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

fn check_path(errors: &mut Errors, field: &str, value: &Option<String>, default: &str) -> String {
    let path = value.clone().unwrap_or_else(|| default.to_string());
    if !path.starts_with('/') || path.contains(['?', '#', ' ']) || !super::rules::is_normalized(&path) {
        errors.push(field, format!("{path:?} must be a plain absolute path like {default:?}"));
    }
    path
}

fn cookie_name_ok(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

pub(crate) fn compile(raw: &RawConfig, env: &dyn Env, errors: &mut Errors) -> Option<LoginConfig> {
    let login_keys_given = raw.scopes.is_some()
        || raw.client_auth.is_some()
        || raw.callback_path.is_some()
        || raw.redirect_uri.is_some()
        || raw.logout_path.is_some()
        || raw.post_logout_redirect.is_some()
        || !raw.api_paths.is_empty()
        || !raw.allowed_redirect_hosts.is_empty();
    let Some(session) = &raw.session else {
        if login_keys_given {
            errors.push("session", "required for browser login (the keys that seal session cookies)");
        }
        return None;
    };

    let client_id = match raw.client_id.as_deref() {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => {
            errors.push("client_id", "required for browser login");
            String::new()
        }
    };
    let client_auth = match raw.client_auth.as_deref().unwrap_or("client_secret_basic") {
        "client_secret_basic" => ClientAuth::Basic,
        "client_secret_post" => ClientAuth::Post,
        "none" => ClientAuth::None,
        other => {
            errors.push(
                "client_auth",
                format!("{other:?} is not one of \"client_secret_basic\", \"client_secret_post\", \"none\""),
            );
            ClientAuth::Basic
        }
    };
    let client_secret = match (&raw.client_secret, client_auth) {
        (Some(s), _) => s.resolve(env).ok(),
        (None, ClientAuth::None) => None,
        (None, _) => {
            errors.push("client_secret", "required unless client_auth is \"none\"");
            None
        }
    };

    let scopes = raw.scopes.clone().unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]);
    if !scopes.iter().any(|s| s == "openid") {
        errors.push("scopes", "must include \"openid\"");
    }
    if scopes.iter().any(|s| s.is_empty() || s.bytes().any(|b| b <= b' ' || b == b'"' || b == b'\\')) {
        errors.push("scopes", "scope names must be non-empty, without spaces or quotes");
    }

    let redirect_uri = match raw.redirect_uri.as_deref().map(AbsoluteUrl::parse) {
        None => None,
        Some(Ok(u)) if !u.path_and_query.contains('?') => Some(u),
        Some(_) => {
            errors.push(
                "redirect_uri",
                "must be an absolute http(s) URL without query, like https://app.example.com/oauth2/callback",
            );
            None
        }
    };
    // With a fixed redirect_uri, its path is the callback path.
    let callback_default = redirect_uri.as_ref().map(|u| u.path_and_query.clone());
    let callback_path = match (&raw.callback_path, &callback_default) {
        (Some(p), Some(d)) if p != d => {
            errors.push("callback_path", format!("{p:?} differs from the path of redirect_uri ({d:?})"));
            p.clone()
        }
        (None, Some(d)) => check_path(errors, "redirect_uri", &Some(d.clone()), "/oauth2/callback"),
        _ => check_path(errors, "callback_path", &raw.callback_path, "/oauth2/callback"),
    };
    let logout_path = check_path(errors, "logout_path", &raw.logout_path, "/oauth2/logout");
    if callback_path == logout_path {
        errors.push("logout_path", "must differ from callback_path");
    }
    let post_logout_redirect = raw.post_logout_redirect.clone().unwrap_or_else(|| "/".to_string());
    if !super::redirect::is_local_path(&post_logout_redirect)
        && super::url::AbsoluteUrl::parse(&post_logout_redirect).is_err()
    {
        errors.push("post_logout_redirect", "must be a local path like \"/\" or an absolute http(s) URL");
    }

    let mut keys = Vec::new();
    if session.keys.is_empty() {
        errors.push("session.keys", "required: at least one 32-byte base64 key (the first seals, all open)");
    }
    for (n, source) in session.keys.iter().enumerate() {
        match source.resolve(env).and_then(|s| parse_key(s.expose())) {
            Ok(k) => keys.push(k),
            Err(e) => errors.push(format!("session.keys[{n}]"), e),
        }
    }
    let cookie_name = session.cookie_name.clone().unwrap_or_else(|| "__Host-oidc_session".to_string());
    if !cookie_name_ok(&cookie_name) {
        errors.push("session.cookie_name", "use up to 64 letters, digits, '-', '_' or '.'");
    }
    let lifetime = errors.duration("session.lifetime", &session.lifetime, Duration::from_secs(8 * 3600)).as_secs();
    let idle_timeout =
        errors.duration("session.idle_timeout", &session.idle_timeout, Duration::from_secs(3600)).as_secs();
    if lifetime == 0 {
        errors.push("session.lifetime", "must be at least 1s");
    }

    let mut api_paths = Vec::new();
    for (n, rule) in raw.api_paths.iter().enumerate() {
        match PathRule::compile(rule) {
            Ok(r) => api_paths.push(r),
            Err(e) => errors.push(format!("api_paths[{n}]"), e),
        }
    }
    for (n, host) in raw.allowed_redirect_hosts.iter().enumerate() {
        if host.is_empty() || host.contains(['/', '@', '\\', ' ']) {
            errors.push(format!("allowed_redirect_hosts[{n}]"), format!("{host:?} must be a host or host:port"));
        }
    }

    Some(LoginConfig {
        client_id,
        client_auth,
        client_secret,
        scope: scopes.join(" "),
        callback_path,
        redirect_uri,
        logout_path,
        post_logout_redirect,
        keys: Keys::new(&keys),
        flow_prefix: format!("{cookie_name}_flow_"),
        cookie_name,
        lifetime,
        idle_timeout,
        keep_id_token: session.keep_id_token.unwrap_or(true),
        api_paths,
        allowed_redirect_hosts: raw.allowed_redirect_hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
    })
}
