//! The fixture `scripts/verify-speed --module` drives the built modules with: a config,
//! a browser's `Cookie` header with a session sealed under its key, provider metadata, a
//! key set and an RS256 token, printed as one JSON object.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

mod common;
use common::ISSUER;

fn main() {
    let now_s = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let (cookie, _) = common::browser_cookie(&common::config(), now_s);
    let claims = json!({"iss": ISSUER, "sub": "service", "aud": "api://orders",
        "exp": now_s + 3600, "iat": now_s, "scope": "api", "client_id": "service"});
    let (jwks, tokens) = common::tokens(&claims);
    let metadata = json!({"issuer": ISSUER, "jwks_uri": format!("{ISSUER}/jwks"),
        "authorization_endpoint": format!("{ISSUER}/auth"), "token_endpoint": format!("{ISSUER}/token")});
    let out = json!({"config": common::config_json(), "cookie": cookie, "metadata": metadata,
        "jwks": serde_json::from_str::<serde_json::Value>(&jwks).unwrap(), "token": tokens[0].1});
    println!("{out}");
}
