//! What the fuzz targets share, built only from `oidc_gate`'s public API (its
//! `core::testing` is `cfg(test)` only): the test keys and a signer ([`keys`]), the
//! fixture configuration, discovery document and JWKS, request headers and an
//! environment from maps, a fixed random stream, and a gate with metadata, keys and a
//! session key loaded, plus the real values it accepts ([`scene`]). The seed corpora
//! are made from the same values by `examples/make_corpus.rs`.

pub mod keys;
pub mod scene;

use std::collections::HashMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use oidc_gate::core::config::secret::Env;
use oidc_gate::core::gate::RequestHeaders;
use oidc_gate::core::rand::Random;

pub const ISS: &str = "https://idp.example.com";
/// The fixed "now" of every fixture, in milliseconds and in seconds.
pub const NOW_MS: u64 = 1_800_000_000_000;
pub const NOW_S: u64 = NOW_MS / 1000;
pub const REFRESH: Duration = Duration::from_secs(600);
/// The static API token of the fixture config (only its SHA-256 is configured).
pub const API_TOKEN: &str = "ci-token-0123";
/// Where the fixture config takes back-channel logouts.
pub const BACKCHANNEL_PATH: &str = "/oauth2/backchannel-logout";
/// The hosts the fixture config allows redirects to, besides its own origin.
pub const ALLOWED_HOST: &str = "app.example.com";

/// Environment variables from a map.
#[derive(Default)]
pub struct MapEnv(pub HashMap<String, String>);

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// Request headers from a map (names as given: Envoy hands them lower-cased).
#[derive(Clone, Default, Debug)]
pub struct MapHeaders(pub HashMap<String, String>);

impl RequestHeaders for MapHeaders {
    fn get(&mut self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// A deterministic byte stream: seed+1, seed+2, ...
pub struct FixedRng(pub u8);

impl Random for FixedRng {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

/// A session key, base64, from one repeated byte.
pub fn session_key(byte: u8) -> String {
    STANDARD.encode([byte; 32])
}

/// The fixture configuration: bearer tokens of `ISS` for audience `api` (also from
/// Flyte's and Flower's headers), opaque tokens by introspection, one static API token,
/// browser login with refresh and two session keys (5 seals, 6 still opens), identity
/// headers (nested, Kubeflow's user id and groups), a rule that lets only `admins` under
/// `/admin` (nobody in the fixture is one), bypass rules, API paths, an allowed
/// redirect host, and back-channel logout.
pub fn config_json() -> Value {
    json!({
        "issuer": ISS, "idp_cluster": "idp", "client_id": "web", "client_secret": "s3cret",
        "bearer": {
            "audiences": ["api"],
            "token_headers": ["flyte-authorization", {"header": "flwr-oidc-access-token", "raw": true}],
            "introspection": {"cache_ttl": "60s"},
            "api_tokens": [{"name": "ci-bot", "sha256": format!("{:x}", Sha256::digest(API_TOKEN.as_bytes())),
                "groups": ["ci"]}]
        },
        "identity_headers": {"x-user-id": "sub", "x-user-email": "email", "x-groups": "groups",
            "x-realm-roles": "realm_access.roles"},
        "user_id": {"header": "kubeflow-userid", "claim": "email", "prefix": "accounts:",
            "transformers": [{"matches": "^(.*)@example\\.com$", "replace": "$1"}]},
        "groups_header": {"header": "kubeflow-groups", "claim": "groups", "separator": ","},
        "authorization": {"rules": [{"path": {"prefix": "/admin"}, "groups_any": ["admins"]}]},
        "bypass": [{"regex": "^/static/"}, {"prefix": "/healthz"}, {"exact": "/favicon.ico"}],
        "api_paths": [{"prefix": "/api/"}],
        "session": {"keys": [session_key(5), session_key(6)], "refresh": true, "refresh_margin": "30s"},
        "forward_access_token": true,
        "allowed_redirect_hosts": [ALLOWED_HOST],
        "backchannel_logout_path": BACKCHANNEL_PATH,
        "assertion": {"signing_key": include_str!("../../filter/testdata/ec-p256.pem"), "audience": "app"},
        "cors_preflight": "allow"
    })
}

/// The fixture's discovery document (every endpoint, introspection included).
pub fn discovery() -> String {
    json!({"issuer": ISS, "jwks_uri": "https://idp.example.com/jwks",
        "authorization_endpoint": "https://idp.example.com/auth", "token_endpoint": "https://idp.example.com/token",
        "userinfo_endpoint": "https://idp.example.com/me", "end_session_endpoint": "https://idp.example.com/logout",
        "introspection_endpoint": "https://idp.example.com/introspect"})
    .to_string()
}

/// The fixture's JWKS: every test key (kids `rsa`, `p256`, `p384`, `ed`).
pub fn jwks() -> String {
    keys::jwks(&keys::all())
}

/// Splits fuzz input into `name value` lines (the first space separates them).
pub fn lines(data: &[u8]) -> impl Iterator<Item = (&str, &str)> {
    std::str::from_utf8(data).unwrap_or("").split('\n').map(|l| l.split_once(' ').unwrap_or((l, "")))
}

/// The path of a `:path` (no query, no fragment), as a reference independent of the
/// filter's own `path_only`.
pub fn path_part(path_and_query: &str) -> &str {
    let end = path_and_query.find(['?', '#']).unwrap_or(path_and_query.len());
    &path_and_query[..end]
}

/// The reference for a path a bypass rule may match: absolute, with no `.` or `..`
/// segment, no empty segment (`//`), no `\` or `;`, and no percent-escape of `.`, `/`,
/// `\`, `;`, `%` or NUL in any case.
pub fn plain_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    path.starts_with('/')
        && !path.contains("//")
        && !path.contains('\\')
        && !path.contains(';')
        && !path.split('/').any(|s| s == "." || s == "..")
        && !["%2e", "%2f", "%5c", "%3b", "%25", "%00"].iter().any(|e| lower.contains(e))
}
