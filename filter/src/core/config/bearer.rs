//! The bearer section (`bearer.*` but for issuers and audiences, which compile with the
//! IdP section): algorithms, the verified-token cache, where tokens come from, opaque
//! tokens through introspection, static API tokens.

use super::defaults;
use super::errors::Errors;
use super::raw::{RawBearer, RawTokenHeader};
use crate::core::gate::request::TokenHeader;
use crate::core::identity::check_header_name;
use crate::core::idp::introspection::IntrospectionConfig;
use crate::core::token::{Alg, AlgSet, ApiTokens};

#[derive(Debug)]
pub struct BearerConfig {
    pub algorithms: AlgSet,
    pub cache_size: usize,
    /// Headers besides `Authorization` that may carry a token, in order.
    pub token_headers: Vec<TokenHeader>,
    /// Opaque tokens are introspected when set.
    pub introspection: Option<IntrospectionConfig>,
    pub api_tokens: ApiTokens,
    /// Clients whose tokens are accepted when a token names no audience (an opaque
    /// token's introspection answer without `aud`).
    pub client_ids: Vec<String>,
}

pub(super) fn compile(raw: &RawBearer, identity_headers: &[String], errors: &mut Errors) -> BearerConfig {
    BearerConfig {
        algorithms: algorithms(raw, errors),
        cache_size: errors.at_most(
            "bearer.cache_size",
            raw.cache_size.unwrap_or(defaults::CACHE_SIZE),
            defaults::MAX_CACHE_SIZE,
        ),
        token_headers: token_headers(raw, identity_headers, errors),
        introspection: raw.introspection.as_ref().map(|i| IntrospectionConfig {
            cache_ttl: at_least_1s(
                errors,
                "bearer.introspection.cache_ttl",
                &i.cache_ttl,
                defaults::INTROSPECTION_CACHE_TTL,
            ),
            inactive_ttl: at_least_1s(
                errors,
                "bearer.introspection.inactive_cache_ttl",
                &i.inactive_cache_ttl,
                defaults::INTROSPECTION_INACTIVE_TTL,
            ),
        }),
        api_tokens: ApiTokens::compile(&raw.api_tokens, errors),
        client_ids: raw.client_ids.clone(),
    }
}

fn at_least_1s(
    errors: &mut Errors,
    field: &str,
    value: &Option<String>,
    default: std::time::Duration,
) -> std::time::Duration {
    let d = errors.duration(field, value, default);
    if d < std::time::Duration::from_secs(1) {
        errors.push(field, "must be at least 1s");
    }
    d
}

/// `bearer.algorithms`: the allow-list, every algorithm when absent.
fn algorithms(raw: &RawBearer, errors: &mut Errors) -> AlgSet {
    let Some(list) = &raw.algorithms else { return AlgSet::all() };
    let mut set = AlgSet::empty();
    for (n, name) in list.iter().enumerate() {
        match Alg::parse(name) {
            Ok(a) => set.insert(a),
            Err(_) => errors.push(
                format!("bearer.algorithms[{n}]"),
                "is not allowed; choose from RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA",
            ),
        }
    }
    if list.is_empty() {
        errors.push("bearer.algorithms", "must name at least one algorithm");
    }
    set
}

/// `bearer.token_headers`: valid names, none twice, neither `authorization` (always
/// read) nor an identity header (the gate sets those).
fn token_headers(raw: &RawBearer, identity_headers: &[String], errors: &mut Errors) -> Vec<TokenHeader> {
    let mut out: Vec<TokenHeader> = Vec::new();
    for (n, h) in raw.token_headers.iter().enumerate() {
        let (name, raw_token) = match h {
            RawTokenHeader::Name(name) => (name.as_str(), false),
            RawTokenHeader::Spec(spec) => (spec.header.as_str(), spec.raw),
        };
        let field = format!("bearer.token_headers[{n}]");
        if check_header_name(name).is_err() && name != "authorization" {
            errors.push(field, "is not a valid header name (use lower-case letters, digits and '-')");
        } else if name == "authorization" {
            errors.push(field, "authorization is always read; list only other headers");
        } else if identity_headers.iter().any(|i| i == name) || out.iter().any(|t| t.name == name) {
            errors.push(field, "is an identity header or listed twice");
        } else {
            out.push(TokenHeader { name: name.to_string(), raw: raw_token });
        }
    }
    out
}
