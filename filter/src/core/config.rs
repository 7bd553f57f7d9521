//! The plugin configuration: serde structs parsed from JSON (unknown keys refused),
//! then compiled into a validated [`Config`] that collects every error with its
//! field path.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

use super::duration;
use super::identity::{check_header_name, HeaderMapping};
use super::jwt::{Alg, AlgSet};
use super::login_config::LoginConfig;
use super::rules::{PathRule, RawPathRule};
use super::secret::{Env, Secret, SecretSource};
use super::url::AbsoluteUrl;

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub idp_cluster: Option<String>,
    #[serde(default)]
    pub idp_clusters: BTreeMap<String, String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<SecretSource>,
    #[serde(default)]
    pub bearer: RawBearer,
    #[serde(default)]
    pub identity_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub bypass: Vec<RawPathRule>,
    #[serde(default)]
    pub clock_skew: Option<String>,
    #[serde(default)]
    pub metadata_refresh: Option<String>,
    #[serde(default)]
    pub jwks_refetch_min_interval: Option<String>,
    #[serde(default)]
    pub idp_timeout: Option<String>,
    #[serde(default)]
    pub startup_wait: Option<String>,
    #[serde(default)]
    pub realm: Option<String>,
    // Browser login (see `login_config`).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub client_auth: Option<String>,
    #[serde(default)]
    pub callback_path: Option<String>,
    #[serde(default)]
    pub redirect_uri: Option<String>,
    #[serde(default)]
    pub logout_path: Option<String>,
    #[serde(default)]
    pub post_logout_redirect: Option<String>,
    #[serde(default)]
    pub session: Option<RawSession>,
    #[serde(default)]
    pub api_paths: Vec<RawPathRule>,
    #[serde(default)]
    pub allowed_redirect_hosts: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawSession {
    #[serde(default)]
    pub keys: Vec<SecretSource>,
    #[serde(default)]
    pub cookie_name: Option<String>,
    #[serde(default)]
    pub lifetime: Option<String>,
    #[serde(default)]
    pub idle_timeout: Option<String>,
    #[serde(default)]
    pub keep_id_token: Option<bool>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RawBearer {
    #[serde(default)]
    pub audiences: Vec<String>,
    #[serde(default)]
    pub issuers: Vec<RawIssuer>,
    #[serde(default)]
    pub algorithms: Option<Vec<String>>,
    #[serde(default)]
    pub cache_size: Option<usize>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawIssuer {
    pub issuer: String,
    #[serde(default)]
    pub audiences: Vec<String>,
}

/// One trusted token issuer. Index 0 is always the login `issuer`.
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    pub issuer: String,
    pub discovery_url: AbsoluteUrl,
    pub audiences: Vec<String>,
}

/// Where a callout to an absolute URL goes: the Envoy cluster and the request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalloutTarget {
    pub cluster: String,
    pub authority: String,
    pub path: String,
}

#[derive(Debug, Clone)]
pub struct Clusters {
    pub default: String,
    /// Keyed by `host:port` or `host`.
    pub by_host: BTreeMap<String, String>,
}

impl Clusters {
    pub fn target(&self, url: &AbsoluteUrl) -> CalloutTarget {
        let cluster =
            self.by_host.get(&url.authority).or_else(|| self.by_host.get(&url.host)).unwrap_or(&self.default).clone();
        CalloutTarget { cluster, authority: url.authority.clone(), path: url.path_and_query.clone() }
    }
}

/// The validated runtime configuration.
#[derive(Debug)]
pub struct Config {
    pub issuers: Vec<IssuerConfig>,
    pub clusters: Clusters,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub algorithms: AlgSet,
    pub cache_size: usize,
    pub identity_headers: Vec<HeaderMapping>,
    pub bypass: Vec<PathRule>,
    pub clock_skew: u64,
    pub metadata_refresh: Duration,
    pub jwks_refetch_min_interval: Duration,
    pub idp_timeout: Duration,
    pub startup_wait: Duration,
    pub realm: String,
    /// Browser login; `None` when `session` is not configured (bearer tokens only).
    pub login: Option<LoginConfig>,
}

/// One configuration error: the field path (`bearer.issuers[1].issuer`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

pub const DEFAULT_CACHE_SIZE: usize = 1024;
const MAX_CACHE_SIZE: usize = 20_000;

/// Parses and compiles the JSON configuration. On failure, returns every error found.
pub fn load(json: &[u8], env: &dyn Env) -> Result<Config, Vec<ConfigError>> {
    let text = std::str::from_utf8(json).map_err(|_| vec![err("(config)", "is not UTF-8")])?;
    let text = if text.trim().is_empty() { "{}" } else { text };
    // serde would also read a struct from a JSON array, by position: refuse that.
    if !text.trim_start().starts_with('{') {
        return Err(vec![err("(config)", "must be a JSON object")]);
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| vec![serde_error(&e)])?;
    compile(raw, env)
}

fn serde_error(e: &serde_path_to_error::Error<serde_json::Error>) -> ConfigError {
    let path = e.path().to_string();
    let inner = e.inner().to_string();
    // Strip serde_json's " at line L column C" tail; the path says where.
    let message = match inner.rfind(" at line ") {
        Some(i) => inner.get(..i).unwrap_or(&inner).to_string(),
        None => inner,
    };
    // serde names the unknown key in the message; put it into the path too.
    if let Some(name) = message.strip_prefix("unknown field `").and_then(|r| r.split('`').next()) {
        let field = if path == "." || path == "?" {
            name.to_string()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path
        } else {
            format!("{path}.{name}")
        };
        return ConfigError { field, message: "unknown key".to_string() };
    }
    let message = if message.contains("did not match any variant of untagged enum SecretSource") {
        "a secret is a string or {\"env\": \"NAME\"}".to_string()
    } else {
        without_quoted_value(&message)
    };
    let field = if path == "." || path == "?" { "(config)".to_string() } else { path };
    ConfigError { field, message }
}

/// serde quotes the offending value (`invalid type: string "…", expected …`), and a secret
/// pasted in the wrong place would end up in Envoy's log: keep the kind, drop the value.
fn without_quoted_value(message: &str) -> String {
    let Some(start) = message.find("string \"") else { return message.to_string() };
    let value_start = start + "string ".len();
    let rest = message.get(value_start..).unwrap_or("");
    let end = rest.rfind("\", expected").or_else(|| rest.rfind('"')).map_or(rest.len(), |e| e + 1);
    format!("{}string{}", message.get(..start).unwrap_or(""), rest.get(end..).unwrap_or(""))
}

fn err(field: &str, message: &str) -> ConfigError {
    ConfigError { field: field.to_string(), message: message.to_string() }
}

pub(crate) struct Errors(pub(crate) Vec<ConfigError>);

impl Errors {
    pub(crate) fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError { field: field.into(), message: message.into() });
    }

    pub(crate) fn duration(&mut self, field: &str, value: &Option<String>, default: Duration) -> Duration {
        match value {
            None => default,
            Some(text) => duration::parse(text).unwrap_or_else(|e| {
                self.push(field, e);
                default
            }),
        }
    }

    fn issuer(&mut self, field: &str, issuer: &str, audiences: Vec<String>) -> Option<IssuerConfig> {
        let url = match AbsoluteUrl::parse(issuer) {
            Ok(u) => u,
            Err(e) => {
                self.push(field, format!("{issuer:?} {e}"));
                return None;
            }
        };
        if url.path_and_query.contains('?') {
            self.push(field, format!("{issuer:?} must not have a query"));
            return None;
        }
        let base = issuer.trim_end_matches('/');
        let discovery = format!("{base}/.well-known/openid-configuration");
        let discovery_url = AbsoluteUrl::parse(&discovery).ok()?;
        Some(IssuerConfig { issuer: issuer.to_string(), discovery_url, audiences })
    }
}

fn compile(raw: RawConfig, env: &dyn Env) -> Result<Config, Vec<ConfigError>> {
    let mut errors = Errors(Vec::new());
    let mut issuers = Vec::new();

    let login_audiences = if raw.bearer.audiences.is_empty() {
        raw.client_id.iter().cloned().collect::<Vec<_>>()
    } else {
        raw.bearer.audiences.clone()
    };
    match raw.issuer.as_deref() {
        None | Some("") => errors.push("issuer", "required: the OpenID provider's issuer URL"),
        Some(issuer) => {
            if login_audiences.is_empty() {
                errors
                    .push("bearer.audiences", "required when client_id is not set: a token's audience must be checked");
            }
            if let Some(i) = errors.issuer("issuer", issuer, login_audiences) {
                issuers.push(i);
            }
        }
    }
    for (n, extra) in raw.bearer.issuers.iter().enumerate() {
        let field = format!("bearer.issuers[{n}]");
        if extra.audiences.is_empty() || extra.audiences.iter().any(String::is_empty) {
            errors.push(format!("{field}.audiences"), "required: at least one non-empty audience");
        }
        if issuers.iter().any(|i: &IssuerConfig| i.issuer == extra.issuer) {
            errors.push(format!("{field}.issuer"), format!("{:?} is listed twice", extra.issuer));
        } else if let Some(i) = errors.issuer(&format!("{field}.issuer"), &extra.issuer, extra.audiences.clone()) {
            issuers.push(i);
        }
    }
    if raw.bearer.audiences.iter().any(String::is_empty) {
        errors.push("bearer.audiences", "must not contain an empty audience");
    }

    let default_cluster = match raw.idp_cluster.as_deref() {
        Some(c) if !c.is_empty() => c.to_string(),
        _ => {
            errors.push("idp_cluster", "required: the Envoy cluster that reaches the OpenID provider");
            String::new()
        }
    };
    for (host, cluster) in &raw.idp_clusters {
        if host.is_empty() || host.contains('/') || cluster.is_empty() {
            errors.push(format!("idp_clusters.{host}"), "maps a host (or host:port) to a non-empty cluster name");
        }
    }
    let clusters = Clusters {
        default: default_cluster,
        by_host: raw.idp_clusters.iter().map(|(h, c)| (h.to_ascii_lowercase(), c.clone())).collect(),
    };

    let client_secret = raw.client_secret.as_ref().and_then(|s| match s.resolve(env) {
        Ok(secret) => Some(secret),
        Err(e) => {
            errors.push("client_secret", e);
            None
        }
    });
    if raw.client_id.as_deref() == Some("") {
        errors.push("client_id", "must not be empty");
    }

    let algorithms = match &raw.bearer.algorithms {
        None => AlgSet::all(),
        Some(list) => {
            let mut set = AlgSet::empty();
            for (n, name) in list.iter().enumerate() {
                match Alg::parse(name) {
                    Ok(a) => set.insert(a),
                    Err(_) => errors.push(
                        format!("bearer.algorithms[{n}]"),
                        format!("{name:?} is not allowed; choose from RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA"),
                    ),
                }
            }
            if list.is_empty() {
                errors.push("bearer.algorithms", "must name at least one algorithm");
            }
            set
        }
    };
    let cache_size = raw.bearer.cache_size.unwrap_or(DEFAULT_CACHE_SIZE);
    if cache_size > MAX_CACHE_SIZE {
        errors.push("bearer.cache_size", format!("must be at most {MAX_CACHE_SIZE}"));
    }

    let mut identity_headers = Vec::new();
    for (header, claim) in &raw.identity_headers {
        if let Err(e) = check_header_name(header) {
            errors.push(format!("identity_headers.{header}"), e);
        } else if claim.is_empty() {
            errors.push(format!("identity_headers.{header}"), "must name a claim");
        } else {
            identity_headers.push(HeaderMapping { header: header.clone(), claim: claim.clone() });
        }
    }

    let mut bypass = Vec::new();
    for (n, rule) in raw.bypass.iter().enumerate() {
        match PathRule::compile(rule) {
            Ok(r) => bypass.push(r),
            Err(e) => errors.push(format!("bypass[{n}]"), e),
        }
    }

    let clock_skew = errors.duration("clock_skew", &raw.clock_skew, Duration::from_secs(60)).as_secs();
    let metadata_refresh = errors.duration("metadata_refresh", &raw.metadata_refresh, Duration::from_secs(600));
    let jwks_refetch_min_interval =
        errors.duration("jwks_refetch_min_interval", &raw.jwks_refetch_min_interval, Duration::from_secs(30));
    let idp_timeout = errors.duration("idp_timeout", &raw.idp_timeout, Duration::from_secs(5));
    let startup_wait = errors.duration("startup_wait", &raw.startup_wait, Duration::from_secs(5));
    if clock_skew > 600 {
        errors.push("clock_skew", "must be at most 10m");
    }
    if metadata_refresh < Duration::from_secs(10) {
        errors.push("metadata_refresh", "must be at least 10s");
    }
    if idp_timeout.is_zero() || idp_timeout > Duration::from_secs(60) {
        errors.push("idp_timeout", "must be between 1ms and 60s");
    }
    if startup_wait > Duration::from_secs(60) {
        errors.push("startup_wait", "must be at most 60s");
    }
    let realm = raw.realm.clone().unwrap_or_else(|| "oidc-gate".to_string());
    if realm.is_empty() || realm.bytes().any(|b| b == b'"' || b == b'\\' || !(b' '..=b'~').contains(&b)) {
        errors.push("realm", "must be printable ASCII without quotes or backslashes");
    }

    let login = super::login_config::compile(&raw, env, &mut errors);

    if !errors.0.is_empty() {
        return Err(errors.0);
    }
    Ok(Config {
        issuers,
        clusters,
        client_id: raw.client_id,
        client_secret,
        algorithms,
        cache_size,
        identity_headers,
        bypass,
        clock_skew,
        metadata_refresh,
        jwks_refetch_min_interval,
        idp_timeout,
        startup_wait,
        realm,
        login,
    })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
