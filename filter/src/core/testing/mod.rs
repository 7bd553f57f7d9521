//! What every test of the core shares: keys and a token signer ([`keys`]), one base
//! configuration with overrides, an environment, request headers and randomness that
//! tests control, a provider fed with discovery and keys, and a session.

pub mod keys;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

use crate::core::config::secret::Env;
use crate::core::config::{load, Config};
use crate::core::gate::{Counter, Io, LogLine, RequestHeaders};
use crate::core::idp::{Clusters, FetchKind, Provider};
use crate::core::rand::Random;
use crate::core::session::Session;
use crate::core::shared::LocalStore;

pub const ISS: &str = "https://idp.example.com";
/// A fixed "now", in milliseconds and in seconds.
pub const NOW_MS: u64 = 1_800_000_000_000;
pub const NOW_S: u64 = NOW_MS / 1000;
pub const REFRESH: Duration = Duration::from_secs(600);

/// Environment variables from a map.
#[derive(Default)]
pub struct MapEnv(pub HashMap<String, String>);

impl MapEnv {
    pub fn with(vars: &[(&str, &str)]) -> MapEnv {
        MapEnv(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }
}

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// Request headers from a map; the request ends with them unless `with_body`.
#[derive(Clone, Default, Debug)]
pub struct MapHeaders(pub HashMap<String, String>, pub bool);

impl MapHeaders {
    pub fn new(pairs: &[(&str, &str)]) -> MapHeaders {
        MapHeaders(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), false)
    }

    /// A body follows these headers.
    pub fn with_body(mut self) -> MapHeaders {
        self.1 = true;
        self
    }

    pub fn with(mut self, name: &str, value: &str) -> MapHeaders {
        self.0.insert(name.to_string(), value.to_string());
        self
    }

    pub fn with_all(mut self, pairs: &[(&str, &str)]) -> MapHeaders {
        for (k, v) in pairs {
            self.0.insert(k.to_string(), v.to_string());
        }
        self
    }
}

impl RequestHeaders for MapHeaders {
    fn get(&mut self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }

    fn body_follows(&self) -> bool {
        self.1
    }
}

/// A deterministic byte stream: 1, 2, 3, ... from the seed on.
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

/// The base configuration (bearer tokens of `ISS` for audience `api`, `x-user-id` from
/// `sub`), with `overrides` merged in at the top level; a `null` removes a key.
pub fn config_json(overrides: Value) -> Value {
    let mut cfg = json!({"issuer": ISS, "idp_cluster": "idp", "client_id": "web",
        "bearer": {"audiences": ["api"]}, "identity_headers": {"x-user-id": "sub"}});
    let obj = cfg.as_object_mut().expect("object");
    for (k, v) in overrides.as_object().expect("overrides are an object") {
        if v.is_null() {
            obj.remove(k);
        } else {
            obj.insert(k.clone(), v.clone());
        }
    }
    cfg
}

pub fn config(overrides: Value) -> Config {
    load(config_json(overrides).to_string().as_bytes(), &MapEnv::default()).expect("a valid test config")
}

/// The base configuration with browser login on (client secret `s3cret`, key byte 5).
pub fn login_config(overrides: Value) -> Config {
    let mut all = json!({"client_secret": "s3cret", "session": {"keys": [session_key(5)]}});
    for (k, v) in overrides.as_object().expect("overrides are an object") {
        all[k] = v.clone();
    }
    config(all)
}

/// A discovery document for `ISS` with every endpoint, `extra` merged in.
pub fn discovery(extra: Value) -> String {
    let mut doc = json!({"issuer": ISS, "jwks_uri": "https://idp.example.com/jwks",
        "authorization_endpoint": "https://idp.example.com/auth", "token_endpoint": "https://idp.example.com/token",
        "userinfo_endpoint": "https://idp.example.com/me", "end_session_endpoint": "https://idp.example.com/logout"});
    for (k, v) in extra.as_object().expect("extra is an object") {
        doc[k] = v.clone();
    }
    doc.to_string()
}

/// Runs a provider's first discovery and JWKS fetches to completion.
pub fn feed(provider: &mut Provider, clusters: &Clusters, discovery_doc: &str, jwks: &str, now_ms: u64) {
    let (kind, _) = provider.poll(now_ms, clusters).expect("a discovery fetch is due");
    assert_eq!(kind, FetchKind::Discovery);
    provider.on_response(kind, Some(200), discovery_doc.as_bytes(), now_ms, REFRESH);
    let (kind, _) = provider.poll(now_ms, clusters).expect("a JWKS fetch is due");
    assert_eq!(kind, FetchKind::Jwks);
    provider.on_response(kind, Some(200), jwks.as_bytes(), now_ms, REFRESH);
}

/// A session for `alice` logged in at `now_s`, with these claims (plus `sub`).
pub fn session(now_s: u64, claims: Value) -> Session {
    let mut claims = claims.as_object().expect("claims are an object").clone();
    claims.insert("sub".into(), json!("alice"));
    Session {
        sub: "alice".into(),
        iat: now_s,
        exp: now_s + 8 * 3600,
        seen: now_s,
        claims,
        id_token: None,
        refresh_token: None,
        access_token: None,
        access_exp: None,
        renewals: 0,
        sid: None,
    }
}

/// The `Cookie` header a browser sends back for these `Set-Cookie` values.
pub fn cookie_header(set_cookies: &[String]) -> String {
    set_cookies
        .iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .filter_map(|c| c.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The outside world of a decision in tests: a fixed random stream, a shared store (one
/// per "Envoy"; pass the same one to two gates to play two workers), and the counters seen.
pub struct TestIo {
    pub rng: FixedRng,
    pub store: LocalStore,
    pub seen: Vec<Counter>,
    pub logs: Vec<String>,
}

impl TestIo {
    pub fn new(seed: u8) -> TestIo {
        TestIo { rng: FixedRng(seed), store: LocalStore::default(), seen: Vec::new(), logs: Vec::new() }
    }

    pub fn run<T>(&mut self, f: impl FnOnce(&mut Io<'_>) -> T) -> T {
        let TestIo { rng, store, seen, logs } = self;
        let mut count = |c| seen.push(c);
        let mut log = |l: LogLine| logs.push(l.message);
        let mut io = Io { rng, shared: store, count: &mut count, log: &mut log };
        f(&mut io)
    }
}
