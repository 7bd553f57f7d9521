//! `github`: sign in with GitHub (OAuth 2.0 without OpenID Connect) instead of an
//! `issuer`. GitHub has no discovery, no ID token and no JWKS: its two web endpoints are
//! configured (`web_url`), and the person is read from its REST API (`api_url`).

use super::defaults;
use super::errors::Errors;
use super::raw::{RawConfig, RawGithub};
use crate::core::authz::AuthzConfig;
use crate::core::identity::IdentityConfig;
use crate::core::idp::{IssuerConfig, Metadata};
use crate::core::token::IssuerRule;
use crate::core::web::AbsoluteUrl;

/// The compiled `github` section.
#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// The REST API's base, without a trailing `/` (`https://api.github.com`, or
    /// `https://HOST/api/v3` for GitHub Enterprise Server).
    pub api_url: String,
    /// Lower-case organisation logins; empty: any.
    pub organizations: Vec<String>,
    /// Lower-case `org/team-slug`; empty: any.
    pub teams: Vec<String>,
    /// The claim the organisations and teams are written to (the one rules and
    /// `groups_header` read).
    pub groups_claim: String,
    /// Whether `/user/orgs` and `/user/teams` are read: a restriction is set, or the
    /// groups claim is read by a header or a rule.
    pub read_orgs: bool,
    pub read_teams: bool,
}

/// The claims a GitHub login makes from `/user` and `/user/emails`; the groups go elsewhere.
pub const MADE: [&str; 6] = ["sub", "login", "github_id", "name", "email", "email_verified"];

/// The longest organisation login or team slug GitHub allows is 39 and 100 characters;
/// anything else in `organizations`/`teams` is a typo.
fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The `github` section in the whole config: compiled, its issuer entry put first among
/// `issuers`, and what GitHub cannot do refused.
pub(super) fn section(
    raw: &RawConfig,
    github: &RawGithub,
    groups_claim: &str,
    (identity, authz): (&IdentityConfig, &AuthzConfig),
    issuers: &mut Vec<IssuerConfig>,
    errors: &mut Errors,
) -> GithubConfig {
    let groups_read = identity.kept.iter().any(|k| k == groups_claim);
    // GitHub's organisations and teams are lower-case in the groups claim.
    if authz.groups_named().any(|g| g.bytes().any(|b| b.is_ascii_uppercase())) {
        errors.push("authorization", "names a group with upper-case letters; GitHub's are lower-case here");
    }
    // GitHub states neither `acr` nor `auth_time`: a step-up could never be met (and each
    // try would go round GitHub, which signs a known browser in without asking, and back).
    for (n, step) in authz.rules.iter().enumerate().filter_map(|(n, r)| Some((n, r.step_up()?))) {
        let field = if step.acr_values.is_empty() { "max_age" } else { "acr_values" };
        errors.push(
            format!("authorization.rules[{n}].{field}"),
            "cannot be met with github: GitHub states neither acr nor auth_time",
        );
    }
    let (config, issuer) = compile(github, groups_claim, groups_read, authz.restricts_everyone(), errors);
    if issuer.as_ref().is_some_and(|gh| issuers.iter().any(|i| i.issuer == gh.issuer)) {
        errors.push("bearer.issuers", "lists GitHub's web_url, which issues no JWTs");
    }
    issuers.splice(0..0, issuer);
    if raw.session.is_none() {
        errors.push("github", "needs \"session\": GitHub sign-in is a browser login");
    }
    config
}

/// The `github` section and the issuer entry that stands for it (its endpoints fixed, not
/// discovered).
fn compile(
    raw: &RawGithub,
    groups_claim: &str,
    groups_read: bool,
    restricted: bool,
    errors: &mut Errors,
) -> (GithubConfig, Option<IssuerConfig>) {
    let base = |field: &str, value: &Option<String>, default: &str, errors: &mut Errors| -> Option<String> {
        let text = value.as_deref().unwrap_or(default).trim_end_matches('/');
        match AbsoluteUrl::parse_config(text) {
            Ok(u) if !u.path_and_query.contains('?') => Some(text.to_string()),
            Ok(_) => {
                errors.push(field, "must not have a query");
                None
            }
            Err(e) => {
                errors.push(field, e);
                None
            }
        }
    };
    let web = base("github.web_url", &raw.web_url, defaults::GITHUB_WEB_URL, errors);
    let api = base("github.api_url", &raw.api_url, defaults::GITHUB_API_URL, errors);
    // An Enterprise host with github.com's API would send its tokens to api.github.com.
    if raw.web_url.is_some() && raw.api_url.is_none() {
        errors.push("github.api_url", "required with web_url (GitHub Enterprise Server: https://HOST/api/v3)");
    }
    if MADE.contains(&groups_claim) {
        errors.push("groups_header.claim", "names a claim a GitHub login sets itself; use another (\"groups\")");
    }
    let (organizations, teams) = restrictions(raw, errors);
    let issuer = web.as_deref().and_then(fixed_endpoints);
    if organizations.is_empty() && teams.is_empty() && !restricted && raw.allow_all_users != Some(true) {
        errors.push(
            "github",
            "set organizations or teams (or authorization requirements): otherwise every GitHub account gets a session; \
             set allow_all_users: true if that is meant",
        );
    }
    let config = GithubConfig {
        api_url: api.unwrap_or_default(),
        read_orgs: !organizations.is_empty() || groups_read,
        read_teams: !teams.is_empty() || groups_read,
        organizations,
        teams,
        groups_claim: groups_claim.to_string(),
    };
    (config, issuer)
}

/// `organizations` and `teams`, lower-case, each checked for GitHub's spelling.
fn restrictions(raw: &RawGithub, errors: &mut Errors) -> (Vec<String>, Vec<String>) {
    let mut organizations = Vec::new();
    for (n, org) in raw.organizations.iter().enumerate() {
        if is_slug(org) {
            organizations.push(org.to_ascii_lowercase());
        } else {
            errors.push(format!("github.organizations[{n}]"), "must be an organisation login like \"flipt-io\"");
        }
    }
    let mut teams = Vec::new();
    for (n, team) in raw.teams.iter().enumerate() {
        match team.split_once('/') {
            Some((org, slug)) if is_slug(org) && is_slug(slug) => teams.push(team.to_ascii_lowercase()),
            _ => errors
                .push(format!("github.teams[{n}]"), "must be \"organisation/team-slug\" like \"flipt-io/maintainers\""),
        }
    }
    (organizations, teams)
}

/// The issuer entry for GitHub: its endpoints fixed, nothing discovered.
fn fixed_endpoints(web: &str) -> Option<IssuerConfig> {
    let url = |path: &str| AbsoluteUrl::parse_config(&format!("{web}{path}")).ok();
    let endpoints = Metadata {
        jwks_uri: url("/")?,
        authorization_endpoint: Some(format!("{web}/login/oauth/authorize")),
        token_endpoint: Some(format!("{web}/login/oauth/access_token")),
        userinfo_endpoint: None,
        end_session_endpoint: None,
        introspection_endpoint: None,
        iss_parameter_supported: false,
    };
    Some(IssuerConfig {
        issuer: web.to_string(),
        rule: IssuerRule::new(web, Vec::new(), Vec::new()),
        discovery_url: url("/")?,
        audiences: Vec::new(),
        identity_headers: None,
        endpoints: Some(endpoints),
    })
}

impl GithubConfig {
    /// The scopes asked for by default: the profile, the email addresses, and the
    /// organisation and team memberships when they are read.
    pub fn default_scopes(&self) -> Vec<String> {
        let mut scopes = vec!["read:user".to_string(), "user:email".to_string()];
        if self.read_orgs || self.read_teams {
            scopes.push("read:org".to_string());
        }
        scopes
    }
}
