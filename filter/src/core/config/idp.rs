//! The IdP section: issuers, the clusters that reach them, and the client's credentials.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::defaults;
use super::errors::Errors;
use super::raw::RawConfig;
use super::secret::Env;
use crate::core::identity::{self, HeaderMapping};
use crate::core::idp::{Client, ClientAuth, Clusters, IssuerConfig};
use crate::core::signing::SigningKey;
use crate::core::token::issuer::{plain_tenant, TENANT};
use crate::core::token::IssuerRule;
use crate::core::web::AbsoluteUrl;

/// The login `issuer` first, then `bearer.issuers`, each with its accepted audiences.
pub(super) fn issuers(raw: &RawConfig, errors: &mut Errors) -> Vec<IssuerConfig> {
    let mut issuers = Vec::new();
    // No default audience: a client's ID tokens name it as their audience, so `client_id`
    // would let ID tokens (and tokens of other apps with the same client) in as bearer
    // credentials. Without `bearer.audiences`, the login issuer's tokens are all refused.
    match (raw.issuer.as_deref(), &raw.github) {
        (Some(_), Some(_)) => errors.push("github", "set either issuer or github, not both"),
        // The GitHub entry goes first once compiled (see `super::github`); GitHub issues
        // no JWTs, so there is nothing for `bearer.audiences` or introspection to accept.
        (None, Some(_)) => {
            if !raw.bearer.audiences.is_empty() {
                errors.push(
                    "bearer.audiences",
                    "applies to the login issuer's tokens; GitHub issues none (list JWT issuers under bearer.issuers)",
                );
            }
            if raw.bearer.introspection.is_some() {
                errors.push("bearer.introspection", "needs an OpenID issuer's introspection endpoint; GitHub has none");
            }
        }
        (None | Some(""), None) => errors.push("issuer", "required: the OpenID provider's issuer URL (or github)"),
        (Some(issuer), None) => issuers.extend(
            issuer_config(errors, "issuer", issuer, raw.bearer.audiences.clone(), None)
                .map(|i| IssuerConfig { rule: login_rule(raw, issuer, errors), ..i }),
        ),
    }
    if raw.github.is_some() && !(raw.issuer_aliases.is_empty() && raw.tenants.is_empty()) {
        errors.push("issuer_aliases", "applies to an OpenID issuer's tokens; GitHub issues none");
    }
    for (n, extra) in raw.bearer.issuers.iter().enumerate() {
        let field = format!("bearer.issuers[{n}]");
        if extra.audiences.is_empty() || extra.audiences.iter().any(String::is_empty) {
            errors.push(format!("{field}.audiences"), "required: at least one non-empty audience");
        }
        if issuers.iter().any(|i: &IssuerConfig| i.issuer == extra.issuer) {
            errors.push(format!("{field}.issuer"), "is listed twice");
        } else {
            let headers = extra
                .identity_headers
                .as_ref()
                .map(|h| identity::compile(&format!("{field}.identity_headers"), h, errors));
            issuers.extend(issuer_config(
                errors,
                &format!("{field}.issuer"),
                &extra.issuer,
                extra.audiences.clone(),
                headers,
            ));
        }
    }
    if raw.bearer.audiences.iter().any(String::is_empty) {
        errors.push("bearer.audiences", "must not contain an empty audience");
    }
    issuers
}

fn issuer_config(
    errors: &mut Errors,
    field: &str,
    issuer: &str,
    audiences: Vec<String>,
    identity_headers: Option<Vec<HeaderMapping>>,
) -> Option<IssuerConfig> {
    let url = match AbsoluteUrl::parse_config(issuer) {
        Ok(u) => u,
        Err(e) => {
            errors.push(field, e);
            return None;
        }
    };
    if url.path_and_query.contains('?') {
        errors.push(field, "must not have a query");
        return None;
    }
    let discovery = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let discovery_url = AbsoluteUrl::parse_config(&discovery).ok()?;
    let rule = IssuerRule::new(issuer, Vec::new(), Vec::new());
    Some(IssuerConfig { issuer: issuer.to_string(), rule, discovery_url, audiences, identity_headers, endpoints: None })
}

/// The login issuer's rule: `issuer_aliases` and `tenants` (see [`IssuerRule`]).
fn login_rule(raw: &RawConfig, issuer: &str, errors: &mut Errors) -> IssuerRule {
    for (n, alias) in raw.issuer_aliases.iter().enumerate() {
        let plain = !alias.is_empty() && alias.bytes().all(|b| b.is_ascii_graphic());
        if !plain || alias.matches(TENANT).count() > 1 || alias == issuer {
            errors.push(
                format!("issuer_aliases[{n}]"),
                "must be another printable issuer value, with {tenantid} at most once",
            );
        }
    }
    let rule = IssuerRule::new(issuer, raw.issuer_aliases.clone(), raw.tenants.clone());
    for (n, tenant) in raw.tenants.iter().enumerate() {
        if !plain_tenant(tenant) {
            errors.push(format!("tenants[{n}]"), "must be a tenant id (1 to 64 letters, digits, '-', '.', '_')");
        }
    }
    if !raw.tenants.is_empty() && !rule.templated() {
        errors.push(
            "tenants",
            "applies to a multi-tenant issuer (…/organizations/v2.0, …/common/v2.0) or an issuer_aliases entry with {tenantid}",
        );
    }
    rule
}

pub(super) fn clusters(raw: &RawConfig, errors: &mut Errors) -> Clusters {
    let default = match raw.idp_cluster.as_deref() {
        Some(c) if !c.is_empty() => c.to_string(),
        _ => {
            errors.push("idp_cluster", "required: the Envoy cluster that reaches the OpenID provider");
            String::new()
        }
    };
    let mut by_host = BTreeMap::new();
    for (host, cluster) in &raw.idp_clusters {
        if host.is_empty() || host.contains('/') || cluster.is_empty() {
            errors.push(format!("idp_clusters.{host}"), "maps a host (or host:port) to a non-empty cluster name");
        }
        by_host.insert(host.to_ascii_lowercase(), cluster.clone());
    }
    Clusters { default, by_host }
}

/// The OAuth client: id, secret and how it authenticates at the token endpoint.
pub(super) fn client(raw: &RawConfig, env: &dyn Env, errors: &mut Errors) -> Client {
    if raw.client_id.as_deref() == Some("") {
        errors.push("client_id", "must not be empty");
    }
    let secret = raw.client_secret.as_ref().and_then(|s| errors.secret("client_secret", s, env));
    // GitHub takes the client's credentials in the form body only.
    let default = if raw.github.is_some() { "client_secret_post" } else { defaults::CLIENT_AUTH };
    let auth = match raw.client_auth.as_deref().unwrap_or(default) {
        "client_secret_basic" => ClientAuth::Basic,
        "client_secret_post" => ClientAuth::Post,
        "none" => ClientAuth::None,
        "private_key_jwt" => ClientAuth::PrivateKeyJwt,
        _ => {
            errors.push(
                "client_auth",
                "must be one of \"client_secret_basic\", \"client_secret_post\", \"private_key_jwt\", \"none\"",
            );
            ClientAuth::Basic
        }
    };
    let key = client_key(raw, auth, env, errors);
    Client { id: raw.client_id.clone().filter(|id| !id.is_empty()), secret, auth, key }
}

/// `client_key`: with `private_key_jwt` and only with it, and never beside a secret.
fn client_key(raw: &RawConfig, auth: ClientAuth, env: &dyn Env, errors: &mut Errors) -> Option<Rc<SigningKey>> {
    let private_key_jwt = auth == ClientAuth::PrivateKeyJwt;
    if private_key_jwt && raw.client_secret.is_some() {
        errors.push(
            "client_secret",
            "must not be set with client_auth \"private_key_jwt\" (the client authenticates with client_key)",
        );
    }
    if private_key_jwt && raw.github.is_some() {
        errors.push("client_auth", "GitHub takes client_secret_post only");
    }
    let Some(source) = &raw.client_key else {
        if private_key_jwt {
            errors.push(
                "client_key",
                "required with client_auth \"private_key_jwt\": an RSA or P-256 private key (PEM or JWK)",
            );
        }
        return None;
    };
    if !private_key_jwt {
        errors.push("client_key", "needs client_auth \"private_key_jwt\"");
        return None;
    }
    let secret = errors.secret("client_key", source, env)?;
    match SigningKey::parse(secret.expose(), true) {
        Ok(key) => Some(Rc::new(key)),
        Err(e) => {
            errors.push("client_key", e);
            None
        }
    }
}
