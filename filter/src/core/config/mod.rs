//! The plugin configuration: parsed from JSON into the serde structs of [`raw`] (unknown
//! keys refused), then compiled section by section into a validated [`Config`]. Every
//! error is collected with its field path; none repeats the value it found.

pub mod bearer;
pub mod defaults;
pub mod duration;
pub mod errors;
pub mod github;
pub mod raw;
pub mod secret;
pub mod warnings;

mod idp;
mod login;

use std::time::Duration;

pub use bearer::BearerConfig;
pub use errors::ConfigError;
pub use github::GithubConfig;
pub use login::{LoginConfig, SessionConfig};

use crate::core::assertion::AssertionConfig;
use crate::core::authz::{self, AuthzConfig};
use crate::core::identity::{self, GroupsHeader, IdentityConfig, UserIdHeader};
use crate::core::idp::{Client, Clusters, IssuerConfig};
use crate::core::web::resource_metadata::ResourceMetadata;
use crate::core::web::PathRule;
use errors::Errors;
use raw::RawConfig;
use secret::Env;

/// The validated runtime configuration.
#[derive(Debug)]
pub struct Config {
    /// Trusted token issuers; index 0 is the login `issuer`.
    pub issuers: Vec<IssuerConfig>,
    pub clusters: Clusters,
    pub client: Client,
    pub bearer: BearerConfig,
    pub identity: IdentityConfig,
    /// Who may pass (`authorization`).
    pub authz: AuthzConfig,
    pub bypass: Vec<PathRule>,
    pub clock_skew: Duration,
    pub metadata_refresh: Duration,
    pub jwks_refetch_min_interval: Duration,
    pub idp_timeout: Duration,
    pub startup_wait: Duration,
    pub realm: String,
    /// RFC 9728 metadata, named in every 401.
    pub resource_metadata: Option<ResourceMetadata>,
    /// Browser login; `None` when `session` is not configured (bearer tokens only).
    pub login: Option<LoginConfig>,
    /// Sign in with GitHub: then `issuers[0]` is GitHub's fixed endpoints.
    pub github: Option<GithubConfig>,
    /// The signed identity assertion on every allowed request.
    pub assertion: Option<AssertionConfig>,
    /// `cors_preflight: "allow"`: CORS preflights pass unauthenticated.
    pub cors_preflight: bool,
    /// The first 16 bytes of the SHA-256 of the config as written: workers share verified
    /// tokens only with workers of the same config.
    pub fingerprint: [u8; 16],
}

/// Parses and compiles the JSON configuration. On failure, returns every error found.
pub fn load(json: &[u8], env: &dyn Env) -> Result<Config, Vec<ConfigError>> {
    let err = |m: &str| vec![ConfigError { field: "(config)".into(), message: m.into() }];
    let text = std::str::from_utf8(json).map_err(|_| err("is not UTF-8"))?;
    let text = if text.trim().is_empty() { "{}" } else { text };
    // serde would also read a struct from a JSON array, by position: refuse that.
    if !text.trim_start().starts_with('{') {
        return Err(err("must be a JSON object"));
    }
    let raw: RawConfig = serde_json::from_str(text).map_err(|e| vec![errors::from_serde(&e, text)])?;
    let mut config = compile(&raw, env)?;
    config.fingerprint = fingerprint(json);
    Ok(config)
}

fn fingerprint(config: &[u8]) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let mut out = [0u8; 16];
    out.copy_from_slice(Sha256::digest(config).get(..16).unwrap_or(&[0u8; 16]));
    out
}

fn compile(raw: &RawConfig, env: &dyn Env) -> Result<Config, Vec<ConfigError>> {
    let mut errors = Errors::default();
    let mut issuers = idp::issuers(raw, &mut errors);
    let clusters = idp::clusters(raw, &mut errors);
    let client = idp::client(raw, env, &mut errors);
    let groups_claim = groups_claim(raw, &mut errors);
    let authz = authz::compile(raw.authorization.as_ref(), &groups_claim, &mut errors);
    let identity = identity_config(raw, &issuers, &authz, &groups_claim, &mut errors);
    let github = raw
        .github
        .as_ref()
        .map(|g| github::section(raw, g, &groups_claim, (&identity, &authz), &mut issuers, &mut errors));
    let bearer = bearer::compile(&raw.bearer, &identity.all_headers, &mut errors);
    let bypass = path_rules("bypass", Some(&raw.bypass), &mut errors);
    let timing = timing(raw, &mut errors);
    let realm = realm(raw, &mut errors);
    let issuer_names: Vec<&str> = issuers.iter().filter(|i| i.endpoints.is_none()).map(|i| i.issuer.as_str()).collect();
    let resource_metadata =
        raw.resource_metadata.as_ref().and_then(|r| ResourceMetadata::compile(r, &issuer_names, &mut errors));
    let login = login::compile(raw, &client, github.as_ref(), env, &mut errors);
    let mut identity = identity;
    if let Some(header) = login.as_ref().and_then(|l| l.forward_id_token.clone()) {
        // Set from the session or removed, like every identity header, in every spelling.
        identity.all_headers.push(header);
        identity.all_headers.sort();
        identity.all_headers.dedup();
    }
    let assertion = assertion(raw, &groups_claim, login.as_ref(), &mut identity, env, &mut errors);
    let cors_preflight = match raw.cors_preflight.as_deref().unwrap_or(defaults::CORS_PREFLIGHT) {
        "allow" => true,
        "refuse" => false,
        _ => {
            errors.push("cors_preflight", "must be \"allow\" or \"refuse\"");
            false
        }
    };
    errors.finish(Config {
        issuers,
        clusters,
        client,
        bearer,
        identity,
        authz,
        bypass,
        clock_skew: timing.clock_skew,
        metadata_refresh: timing.metadata_refresh,
        jwks_refetch_min_interval: timing.jwks_refetch_min_interval,
        idp_timeout: timing.idp_timeout,
        startup_wait: timing.startup_wait,
        realm,
        resource_metadata,
        login,
        github,
        assertion,
        cors_preflight,
        fingerprint: [0; 16],
    })
}

/// Where the groups come from, for the rules and the groups header alike: `groups_claim`,
/// or (as before it existed) `groups_header.claim`, else `groups`. Both set must agree.
fn groups_claim(raw: &RawConfig, errors: &mut Errors) -> String {
    let from_header = raw.groups_header.as_ref().and_then(|g| g.claim.as_deref());
    match (raw.groups_claim.as_deref(), from_header) {
        (Some(""), _) => {
            errors.push("groups_claim", "must name a claim");
            defaults::GROUPS_CLAIM.to_string()
        }
        (Some(a), Some(b)) if a != b => {
            errors.push(
                "groups_header.claim",
                "differs from groups_claim: the groups come from one claim, for the rules and the header (set groups_claim only)",
            );
            a.to_string()
        }
        (Some(c), _) | (None, Some(c)) => c.to_string(),
        (None, None) => defaults::GROUPS_CLAIM.to_string(),
    }
}

/// `assertion`: its header is an identity header (set on every allowed request, removed
/// in every spelling from the client's); `iss` is fixed by `assertion.issuer`, else by
/// the origin of `redirect_uri` when there is one.
fn assertion(
    raw: &RawConfig,
    groups_claim: &str,
    login: Option<&LoginConfig>,
    identity: &mut IdentityConfig,
    env: &dyn Env,
    errors: &mut Errors,
) -> Option<AssertionConfig> {
    let mut assertion = AssertionConfig::compile(raw.assertion.as_ref()?, groups_claim, env, errors)?;
    if identity.all_headers.contains(&assertion.header) {
        errors.push("assertion.header", "is already an identity header");
    }
    identity.all_headers.push(assertion.header.clone());
    identity.all_headers.sort();
    if assertion.issuer.is_none() {
        assertion.issuer =
            login.and_then(|l| l.redirect_uri.as_ref()).map(|u| format!("{}://{}", u.scheme, u.authority));
    }
    Some(assertion)
}

fn identity_config(
    raw: &RawConfig,
    issuers: &[IssuerConfig],
    authz: &AuthzConfig,
    groups_claim: &str,
    errors: &mut Errors,
) -> IdentityConfig {
    let headers = identity::compile("identity_headers", &raw.identity_headers, errors);
    let user_id = raw.user_id.as_ref().map(|u| UserIdHeader::compile(u, errors));
    let groups_header = raw.groups_header.as_ref().map(|g| GroupsHeader::compile(g, groups_claim, errors));
    let mut all_headers: Vec<String> = headers.iter().map(|m| m.header.clone()).collect();
    let mut read: Vec<String> = headers.iter().map(|m| m.claim.clone()).collect();
    for own in issuers.iter().filter_map(|i| i.identity_headers.as_ref()) {
        all_headers.extend(own.iter().map(|m| m.header.clone()));
        read.extend(own.iter().map(|m| m.claim.clone()));
    }
    all_headers.extend(user_id.iter().map(|u| u.header.clone()));
    all_headers.extend(groups_header.iter().map(|g| g.header.clone()));
    read.extend(user_id.iter().map(|u| u.claim.clone()));
    read.extend(groups_header.iter().map(|g| g.claim.clone()));
    read.extend(authz.claims_read());
    if read.iter().any(|c| c == groups_claim) {
        // An Entra ID groups overage leaves these instead of the groups: kept, so that the
        // rules can say why a group is missing (and a login can resolve them).
        read.extend(identity::overage::MARKERS.iter().map(|m| m.to_string()));
    }
    read.extend(["sub".to_string(), "email_verified".to_string()]);
    if raw.assertion.is_some() {
        // What the assertion says: `email`, the groups and the vouching issuer (`idp`).
        let groups = raw.groups_header.as_ref().and_then(|g| g.claim.clone()).unwrap_or_else(|| "groups".into());
        read.extend(["email".to_string(), "iss".to_string(), groups]);
    }
    // A dotted name is kept whole (a namespaced claim) and by its first part (a nested one).
    let mut kept: Vec<String> =
        read.iter().flat_map(|c| [c.clone(), identity::claims::top_level(c).to_string()]).collect();
    for names in [&mut all_headers, &mut kept] {
        names.sort();
        names.dedup();
    }
    let duplicate = all_headers.windows(2).any(|w| w.first() == w.get(1));
    if duplicate || user_id.as_ref().is_some_and(|u| headers.iter().any(|m| m.header == u.header)) {
        errors.push("user_id.header", "is already an identity header");
    }
    let require_email_verified = raw.require_email_verified.unwrap_or(false);
    IdentityConfig { headers, user_id, groups_header, require_email_verified, all_headers, kept }
}

struct Timing {
    clock_skew: Duration,
    metadata_refresh: Duration,
    jwks_refetch_min_interval: Duration,
    idp_timeout: Duration,
    startup_wait: Duration,
}

fn timing(raw: &RawConfig, errors: &mut Errors) -> Timing {
    let t = Timing {
        clock_skew: errors.duration("clock_skew", &raw.clock_skew, defaults::CLOCK_SKEW),
        metadata_refresh: errors.duration("metadata_refresh", &raw.metadata_refresh, defaults::METADATA_REFRESH),
        jwks_refetch_min_interval: errors.duration(
            "jwks_refetch_min_interval",
            &raw.jwks_refetch_min_interval,
            defaults::JWKS_REFETCH_MIN_INTERVAL,
        ),
        idp_timeout: errors.duration("idp_timeout", &raw.idp_timeout, defaults::IDP_TIMEOUT),
        startup_wait: errors.duration("startup_wait", &raw.startup_wait, defaults::STARTUP_WAIT),
    };
    if t.clock_skew > defaults::MAX_CLOCK_SKEW {
        errors.push("clock_skew", format!("must be at most {}", duration::format(defaults::MAX_CLOCK_SKEW)));
    }
    if t.metadata_refresh < defaults::MIN_METADATA_REFRESH {
        errors
            .push("metadata_refresh", format!("must be at least {}", duration::format(defaults::MIN_METADATA_REFRESH)));
    }
    if t.idp_timeout.is_zero() || t.idp_timeout > defaults::MAX_IDP_TIMEOUT {
        errors.push("idp_timeout", format!("must be between 1ms and {}", duration::format(defaults::MAX_IDP_TIMEOUT)));
    }
    if t.startup_wait > defaults::MAX_STARTUP_WAIT {
        errors.push("startup_wait", format!("must be at most {}", duration::format(defaults::MAX_STARTUP_WAIT)));
    }
    t
}

fn realm(raw: &RawConfig, errors: &mut Errors) -> String {
    let realm = raw.realm.as_deref().unwrap_or(defaults::REALM);
    if realm.is_empty() || realm.bytes().any(|b| b == b'"' || b == b'\\' || !(b' '..=b'~').contains(&b)) {
        errors.push("realm", "must be printable ASCII without quotes or backslashes");
    }
    realm.to_string()
}

/// A list of path rules (`bypass`, `api_paths`), each error at its index.
fn path_rules(field: &str, raw: Option<&Vec<raw::RawPathRule>>, errors: &mut Errors) -> Vec<PathRule> {
    let mut rules = Vec::new();
    for (n, rule) in raw.into_iter().flatten().enumerate() {
        match PathRule::compile(rule) {
            Ok(r) => rules.push(r),
            Err(e) => errors.push(format!("{field}[{n}]"), e),
        }
    }
    rules
}

#[cfg(test)]
mod feature_tests;
#[cfg(test)]
mod tests;
