//! Every default and limit of the configuration, defined once. The README's key table
//! is checked against [`documented`] by a test, so the two cannot drift apart.

use std::time::Duration;

use super::duration;

pub const CLOCK_SKEW: Duration = Duration::from_secs(60);
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(600);
pub const METADATA_REFRESH: Duration = Duration::from_secs(600);
pub const MIN_METADATA_REFRESH: Duration = Duration::from_secs(10);
pub const JWKS_REFETCH_MIN_INTERVAL: Duration = Duration::from_secs(30);
pub const IDP_TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_IDP_TIMEOUT: Duration = Duration::from_secs(60);
pub const STARTUP_WAIT: Duration = Duration::from_secs(5);
pub const MAX_STARTUP_WAIT: Duration = Duration::from_secs(60);
pub const REALM: &str = "oidc-gate";
pub const CACHE_SIZE: usize = 1024;
pub const MAX_CACHE_SIZE: usize = 20_000;
pub const INTROSPECTION_CACHE_TTL: Duration = Duration::from_secs(60);
pub const INTROSPECTION_INACTIVE_TTL: Duration = Duration::from_secs(10);

pub const GROUPS_CLAIM: &str = "groups";
pub const CLIENT_AUTH: &str = "client_secret_basic";
/// How long a `private_key_jwt` client assertion is valid (seconds after `iat`).
pub const CLIENT_ASSERTION_LIFETIME: Duration = Duration::from_secs(60);
pub const ASSERTION_HEADER: &str = "x-oidc-gate-assertion";
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(300);
pub const MIN_ASSERTION_LIFETIME: Duration = Duration::from_secs(10);
pub const MAX_ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);
pub const CORS_PREFLIGHT: &str = "refuse";
pub const GITHUB_WEB_URL: &str = "https://github.com";
pub const GITHUB_API_URL: &str = "https://api.github.com";
pub const SCOPES: [&str; 3] = ["openid", "email", "profile"];
pub const CALLBACK_PATH: &str = "/oauth2/callback";
pub const LOGOUT_PATH: &str = "/oauth2/logout";
pub const POST_LOGOUT_REDIRECT: &str = "/";
pub const COOKIE_NAME: &str = "__Host-oidc_session";
pub const LIFETIME: Duration = Duration::from_secs(8 * 3600);
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(3600);
pub const KEEP_ID_TOKEN: bool = true;
pub const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// Each key of the README's table with its default exactly as the table writes it.
pub fn documented() -> Vec<(&'static str, String)> {
    let d = |v: Duration| format!("`\"{}\"`", duration::format(v));
    let s = |v: &str| format!("`\"{v}\"`");
    let list = |v: &[&str]| format!("`[{}]`", v.iter().map(|x| format!("\"{x}\"")).collect::<Vec<_>>().join(", "));
    vec![
        ("issuer", "required (or `github`)".into()),
        ("issuer_aliases", "`[]`".into()),
        ("tenants", "`[]`".into()),
        ("github", "none".into()),
        ("github.organizations", "`[]`".into()),
        ("github.teams", "`[]`".into()),
        ("github.web_url", s(GITHUB_WEB_URL)),
        ("github.api_url", s(GITHUB_API_URL)),
        ("github.allow_all_users", "`false`".into()),
        ("idp_cluster", "required".into()),
        ("idp_clusters", "`{}`".into()),
        ("client_id", "none".into()),
        ("client_secret", "none".into()),
        ("client_key", "none".into()),
        ("bearer", "`{}`".into()),
        ("bearer.audiences", "`[]`".into()),
        ("bearer.issuers", "`[]`".into()),
        ("bearer.algorithms", "all nine".into()),
        ("bearer.cache_size", format!("`{CACHE_SIZE}`")),
        ("bearer.token_headers", "`[]`".into()),
        ("bearer.introspection", "none".into()),
        ("bearer.introspection.cache_ttl", d(INTROSPECTION_CACHE_TTL)),
        ("bearer.introspection.inactive_cache_ttl", d(INTROSPECTION_INACTIVE_TTL)),
        ("bearer.api_tokens", "`[]`".into()),
        ("bearer.client_ids", "`[]`".into()),
        ("resource_metadata", "none".into()),
        ("assertion", "none".into()),
        ("assertion.header", s(ASSERTION_HEADER)),
        ("assertion.signing_key", "required (or `signing_keys`)".into()),
        ("assertion.signing_keys", "none".into()),
        ("assertion.audience", "required".into()),
        ("assertion.lifetime", d(ASSERTION_LIFETIME)),
        ("assertion.issuer", "the request's origin".into()),
        ("cors_preflight", s(CORS_PREFLIGHT)),
        ("identity_headers", "`{}`".into()),
        ("require_email_verified", "`false`".into()),
        ("user_id", "none".into()),
        ("user_id.prefix", "`\"\"`".into()),
        ("user_id.transformers", "`[]`".into()),
        ("groups_claim", s(GROUPS_CLAIM)),
        ("groups_header", "none".into()),
        ("groups_header.claim", s(GROUPS_CLAIM)),
        ("graph_url", "none".into()),
        ("groups_header.separator", "`\",\"`".into()),
        ("authorization", "none".into()),
        ("authorization.allowed_email_domains", "`[]`".into()),
        ("authorization.required_groups", "none".into()),
        ("authorization.claims", "`[]`".into()),
        ("authorization.rules", "`[]`".into()),
        ("authorization.rules[].acr_values", "none".into()),
        ("authorization.rules[].max_age", "none".into()),
        ("bypass", "`[]`".into()),
        ("clock_skew", d(CLOCK_SKEW)),
        ("metadata_refresh", d(METADATA_REFRESH)),
        ("jwks_refetch_min_interval", d(JWKS_REFETCH_MIN_INTERVAL)),
        ("idp_timeout", d(IDP_TIMEOUT)),
        ("startup_wait", d(STARTUP_WAIT)),
        ("realm", s(REALM)),
        ("session", "none".into()),
        ("session.keys", "required".into()),
        ("session.cookie_name", s(COOKIE_NAME)),
        ("session.lifetime", d(LIFETIME)),
        ("session.idle_timeout", d(IDLE_TIMEOUT)),
        ("session.keep_id_token", format!("`{KEEP_ID_TOKEN}`")),
        ("session.refresh", "`false`".into()),
        ("session.refresh_margin", d(REFRESH_MARGIN)),
        ("forward_access_token", "`false`".into()),
        ("forward_id_token", "none".into()),
        ("scopes", format!("{}; with `github`: `[\"read:user\", \"user:email\"]`, and `\"read:org\"` when organisations or teams are read", list(&SCOPES))),
        ("client_auth", format!("{}; with `github`: `\"client_secret_post\"`", s(CLIENT_AUTH))),
        ("callback_path", s(CALLBACK_PATH)),
        ("redirect_uri", "none".into()),
        ("logout_path", s(LOGOUT_PATH)),
        ("backchannel_logout_path", "none".into()),
        ("post_logout_redirect", s(POST_LOGOUT_REDIRECT)),
        ("logout_url", "none".into()),
        ("authorization_params", "`{}`".into()),
        ("api_paths", "`[]`".into()),
        ("allowed_redirect_hosts", "`[]`".into()),
    ]
}

/// The `| key | default | meaning |` rows of a README's "Configuration" section: what the
/// README documents, checked against [`documented`] and read into the JSON Schema.
pub fn readme_rows(readme: &str) -> Vec<(String, String, String)> {
    let section = readme.split("\n## Configuration").nth(1).unwrap_or("");
    let section = section.split("\n## ").next().unwrap_or("");
    section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            let key = cells.first()?.strip_prefix("| `")?.strip_suffix('`')?;
            let meaning = cells.get(2..)?.join(" | ");
            let meaning = meaning.trim().trim_end_matches('|').trim();
            Some((key.to_string(), cells.get(1)?.trim().to_string(), meaning.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{documented, readme_rows};

    #[test]
    fn the_readme_table_states_every_default_as_the_code_defines_it() {
        let rows = readme_rows(include_str!("../../../../README.md"));
        let code = documented();
        for (key, default) in &code {
            let row = rows.iter().find(|(k, _, _)| k == key);
            assert_eq!(row.map(|(_, d, _)| d.as_str()), Some(default.as_str()), "README row for `{key}`");
        }
        for (key, _, meaning) in &rows {
            assert!(code.iter().any(|(k, _)| k == key), "README documents `{key}`, which the code does not list");
            assert!(!meaning.is_empty(), "README row for `{key}` says what it means");
        }
    }
}
