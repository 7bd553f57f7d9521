//! The configuration exactly as written: serde structs, unknown keys refused. Nothing
//! here is checked beyond JSON types; `compile` turns it into a [`super::Config`].

use serde::Deserialize;
use std::collections::BTreeMap;

use super::secret::SecretSource;

#[derive(Deserialize, Debug, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub issuer_aliases: Vec<String>,
    #[serde(default)]
    pub tenants: Vec<String>,
    #[serde(default)]
    pub github: Option<RawGithub>,
    #[serde(default)]
    pub idp_cluster: Option<String>,
    #[serde(default)]
    pub idp_clusters: BTreeMap<String, String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<SecretSource>,
    #[serde(default)]
    pub client_auth: Option<String>,
    /// The private key of `client_auth: "private_key_jwt"` (PEM or JWK).
    #[serde(default)]
    pub client_key: Option<SecretSource>,
    #[serde(default)]
    pub bearer: RawBearer,
    #[serde(default)]
    pub identity_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub require_email_verified: Option<bool>,
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
    #[serde(default)]
    pub resource_metadata: Option<RawResourceMetadata>,
    #[serde(default)]
    pub authorization: Option<RawAuthorization>,
    #[serde(default)]
    pub user_id: Option<RawUserId>,
    #[serde(default)]
    pub groups_claim: Option<String>,
    #[serde(default)]
    pub groups_header: Option<RawGroupsHeader>,
    #[serde(default)]
    pub graph_url: Option<String>,
    #[serde(default)]
    pub assertion: Option<RawAssertion>,
    /// `"allow"` lets CORS preflights through unauthenticated; `"refuse"` (the default) does not.
    #[serde(default)]
    pub cors_preflight: Option<String>,
    // Browser login: each of these needs `session` (the login compiler reports any of
    // them given without it).
    #[serde(default)]
    pub session: Option<RawSession>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub callback_path: Option<String>,
    #[serde(default)]
    pub redirect_uri: Option<String>,
    #[serde(default)]
    pub logout_path: Option<String>,
    #[serde(default)]
    pub post_logout_redirect: Option<String>,
    #[serde(default)]
    pub logout_url: Option<String>,
    #[serde(default)]
    pub authorization_params: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub api_paths: Option<Vec<RawPathRule>>,
    #[serde(default)]
    pub allowed_redirect_hosts: Option<Vec<String>>,
    #[serde(default)]
    pub forward_access_token: Option<bool>,
    #[serde(default)]
    pub forward_id_token: Option<RawForwardIdToken>,
    #[serde(default)]
    pub backchannel_logout_path: Option<String>,
}

/// Sign in with GitHub (OAuth 2.0 without OpenID Connect), instead of `issuer`.
#[derive(Deserialize, Debug, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawGithub {
    #[serde(default)]
    pub organizations: Vec<String>,
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub web_url: Option<String>,
    #[serde(default)]
    pub api_url: Option<String>,
    #[serde(default)]
    pub allow_all_users: Option<bool>,
}

/// The signed identity assertion: a short-lived ES256 JWT on every allowed request.
#[derive(Deserialize, Debug, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawAssertion {
    #[serde(default)]
    pub header: Option<String>,
    /// One P-256 private key (PEM or JWK); or `signing_keys`.
    #[serde(default)]
    pub signing_key: Option<SecretSource>,
    /// P-256 private keys: the first signs, every one is published (rotation).
    #[serde(default)]
    pub signing_keys: Option<Vec<SecretSource>>,
    #[serde(default)]
    pub audience: Option<String>,
    #[serde(default)]
    pub lifetime: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
}

#[derive(Deserialize, Debug)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawForwardIdToken {
    pub header: String,
}

#[derive(Deserialize, Debug)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    #[serde(default)]
    pub refresh: Option<bool>,
    #[serde(default)]
    pub refresh_margin: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    #[serde(default)]
    pub token_headers: Vec<RawTokenHeader>,
    #[serde(default)]
    pub introspection: Option<RawIntrospection>,
    #[serde(default)]
    pub api_tokens: Vec<RawApiToken>,
    #[serde(default)]
    pub client_ids: Vec<String>,
}

/// A header that may carry a bearer token besides `Authorization`: `"name"` (holding
/// `Bearer <token>`) or `{"header": "name", "raw": true}` (holding the bare token).
#[derive(Deserialize, Debug)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum RawTokenHeader {
    Name(String),
    Spec(RawTokenHeaderSpec),
}

#[derive(Deserialize, Debug)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawTokenHeaderSpec {
    pub header: String,
    #[serde(default)]
    pub raw: bool,
}

#[derive(Deserialize, Debug, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawIntrospection {
    #[serde(default)]
    pub cache_ttl: Option<String>,
    #[serde(default)]
    pub inactive_cache_ttl: Option<String>,
}

#[derive(Deserialize, Debug)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawApiToken {
    pub name: String,
    pub sha256: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize, Debug)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawResourceMetadata {
    pub resource: String,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawIssuer {
    pub issuer: String,
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Headers for this issuer's tokens, instead of the top-level `identity_headers`.
    #[serde(default)]
    pub identity_headers: Option<BTreeMap<String, String>>,
}

/// A path rule: exactly one of `prefix`, `exact`, `regex`.
#[derive(Deserialize, Debug, Clone)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawPathRule {
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub exact: Option<String>,
    #[serde(default)]
    pub regex: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawAuthorization {
    #[serde(default)]
    pub allowed_email_domains: Vec<String>,
    #[serde(default)]
    pub required_groups: Option<RawGroupRule>,
    #[serde(default)]
    pub claims: Vec<RawClaimRule>,
    #[serde(default)]
    pub rules: Vec<RawRule>,
}

/// `{"any": [...]}` or `{"all": [...]}`.
#[derive(Deserialize, Debug)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawGroupRule {
    #[serde(default)]
    pub any: Option<Vec<String>>,
    #[serde(default)]
    pub all: Option<Vec<String>>,
}

/// `{"claim": "hd", "equals": "example.com"}`, `"one_of": [...]` or `"matches": "regex"`.
#[derive(Deserialize, Debug)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawClaimRule {
    pub claim: String,
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
    #[serde(default)]
    pub one_of: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub matches: Option<String>,
}

#[derive(Deserialize, Debug)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub path: RawPathRule,
    #[serde(default)]
    pub methods: Option<Vec<String>>,
    #[serde(default)]
    pub groups_any: Option<Vec<String>>,
    #[serde(default)]
    pub groups_all: Option<Vec<String>>,
    #[serde(default)]
    pub scopes_any: Option<Vec<String>>,
    #[serde(default)]
    pub claims: Vec<RawClaimRule>,
    #[serde(default)]
    pub allow: Option<String>,
    #[serde(default)]
    pub acr_values: Option<Vec<String>>,
    #[serde(default)]
    pub max_age: Option<String>,
}

#[derive(Deserialize, Debug)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawUserId {
    pub header: String,
    pub claim: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub transformers: Vec<RawTransformer>,
}

#[derive(Deserialize, Debug)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawTransformer {
    pub matches: String,
    pub replace: String,
}

#[derive(Deserialize, Debug)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RawGroupsHeader {
    pub header: String,
    #[serde(default)]
    pub claim: Option<String>,
    #[serde(default)]
    pub separator: Option<String>,
}
