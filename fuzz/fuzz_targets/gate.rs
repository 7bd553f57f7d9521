//! The whole request decision: `gate::Gate::decide` on a fresh gate with the fixture's
//! discovery, keys and session keys loaded, then `resume` with the IdP's answer for every
//! `Decision::Call` (code exchange, userinfo, introspection, refresh), the provider fed
//! for every wait on it, and `resume_after_wait` (or a decision again) after a wait.
//!
//! Input: lines of `name value` (the first space splits). A name is a request header
//! (`:path`, `:method`, `:authority`, `:scheme`, `cookie`, `authorization`,
//! `flyte-authorization`, `flwr-oidc-access-token`, `accept`, `sec-fetch-mode`, ...);
//! `@now <seconds>` moves the clock from the fixture's now (signed); `@nowait` decides
//! without waiting; each `@answer <status|-> <body>` is the IdP's next answer (`-`: none).
//! The seeds hold the fixture's real values: a bearer JWT, the API token, sealed session
//! cookies (plain, refreshable, chunked, older key), a login's flow cookie and `state`,
//! the token response with its signed ID token, a userinfo and introspection answers.
//! Properties (besides: nothing panics):
//! - `Allow` only as: (a) a bypass, for a path that a bypass rule names and that is
//!   plain (see `plain_path`), or a CORS preflight without any credential; (b) a bearer, when the request's token is exactly one of
//!   the fixture's JWTs or its API token, or an introspection answer in this input said `active:
//!   true`; (c) a session, when the session cookies reassemble exactly one the fixture
//!   sealed; never anything else, and never under `/admin` (nobody is an admin);
//! - a signed identity assertion only on a bearer or session `Allow`;
//! - `LoginCompleted` only when a token response in this input carried the fixture's
//!   signed ID token (nothing else completes a login);
//! - every `Location` the gate answers with is a local path, the IdP's, or on the
//!   request's own or an allowed host.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oidc_gate::core::gate::{Answer, Counter, Decision, Pending, WaitFor};
use oidc_gate::core::idp::Provider;
use oidc_gate::core::shared::LocalStore;
use oidc_gate_fuzz::scene::{session_config, with_io, Scene};
use oidc_gate_fuzz::{lines, path_part, plain_path, FixedRng, MapHeaders, ALLOWED_HOST, API_TOKEN, NOW_MS, REFRESH};
use serde_json::Value;

thread_local! {
    static SCENE: Scene = Scene::new();
    /// The login provider as fed, handed from run to run while no run changes it.
    /// `FUZZ_SHOW=1`: print each run's outcome (to see what the seeds reach).
    static SHOW: bool = std::env::var_os("FUZZ_SHOW").is_some();
    static PROVIDER: std::cell::Cell<Option<Provider>> = const { std::cell::Cell::new(None) };
}

/// Decisions after the first, at most (a real request makes a few).
const MAX_STEPS: usize = 8;

struct Input<'a> {
    headers: MapHeaders,
    now_ms: u64,
    may_wait: bool,
    answers: Vec<(Option<u16>, &'a [u8])>,
}

fn read(data: &[u8]) -> Input<'_> {
    let mut input = Input { headers: MapHeaders::default(), now_ms: NOW_MS, may_wait: true, answers: Vec::new() };
    for (name, value) in lines(data) {
        match name {
            "@now" => {
                let secs: i64 = value.trim().parse().unwrap_or(0);
                input.now_ms = NOW_MS.saturating_add_signed(secs.saturating_mul(1000));
            }
            "@nowait" => input.may_wait = false,
            "@answer" => {
                let (status, body) = value.split_once(' ').unwrap_or((value, ""));
                input.answers.push((status.parse().ok(), body.as_bytes()));
            }
            _ => {
                input.headers.0.insert(name.to_string(), value.to_string());
            }
        }
    }
    input
}

fuzz_target!(|data: &[u8]| {
    SCENE.with(|scene| run(scene, data));
});

/// What the IdP said in this run that may rightly let a request in.
#[derive(Default)]
struct Said {
    active: bool,
    id_token: bool,
}

fn run(scene: &Scene, data: &[u8]) {
    let mut input = read(data);
    let now_ms = input.now_ms;
    let mut gate = scene.gate(PROVIDER.take());
    let mut fetched = false;
    let (mut rng, mut store) = (FixedRng(data.len() as u8), LocalStore::default());
    let mut answers = input.answers.iter().copied();
    let mut said = Said::default();
    let headers = &mut input.headers;

    let mut decision =
        with_io(&mut rng, &mut store, |io| gate.decide(&mut headers.clone(), now_ms, input.may_wait, io));
    for step in 0..=MAX_STEPS {
        decision = match decision {
            Decision::Call { .. } | Decision::Wait { .. } if step == MAX_STEPS => break,
            Decision::Call { pending, .. } => {
                let (status, body) = answers.next().unwrap_or((None, b""));
                let json: Option<Value> = serde_json::from_slice(body).ok();
                match &pending {
                    Pending::Introspect(_) if status == Some(200) => {
                        said.active |= json.as_ref().and_then(|v| v.get("active")) == Some(&Value::Bool(true));
                    }
                    Pending::Login(_) if status == Some(200) => {
                        let id_token = json.as_ref().and_then(|v| v.get("id_token")).and_then(Value::as_str);
                        said.id_token |= id_token == Some(scene.id_token.as_str());
                    }
                    _ => {}
                }
                let answer = Answer { status, body };
                with_io(&mut rng, &mut store, |io| gate.resume(pending, answer, now_ms, &mut headers.clone(), io))
            }
            Decision::Wait { on, pending } => {
                if let WaitFor::Provider(i) = on {
                    // The shell fetches what the provider asks for; the IdP answers from the input.
                    let clusters = gate.config.clusters.clone();
                    let mut changed = false;
                    for _ in 0..2 {
                        let Some(provider) = gate.providers.get_mut(i) else { break };
                        fetched = true;
                        let Some((kind, _)) = provider.poll(now_ms, &clusters) else { break };
                        let (status, body) = answers.next().unwrap_or((None, b""));
                        changed |= provider.on_response(kind, status, body, now_ms, REFRESH).keys_changed;
                    }
                    if changed {
                        gate.keys_changed();
                    }
                }
                with_io(&mut rng, &mut store, |io| match pending {
                    Some(p) => gate.resume_after_wait(p, now_ms, &mut headers.clone(), io),
                    None => gate.decide(&mut headers.clone(), now_ms, false, io),
                })
            }
            done => {
                check(scene, headers, &said, done);
                break;
            }
        };
    }
    PROVIDER.set(Scene::reusable(&mut gate, fetched));
}

fn check(scene: &Scene, headers: &MapHeaders, said: &Said, decision: Decision) {
    if SHOW.with(|s| *s) {
        let outcome = match &decision {
            Decision::Allow { counter, .. } | Decision::Respond { counter, .. } => format!("{counter:?}"),
            other => format!("{other:?}"),
        };
        eprintln!("outcome: {outcome}");
    }
    let path = headers.0.get(":path").map_or("", String::as_str);
    match decision {
        Decision::Allow { counter, assertion, .. } => {
            // A signed assertion only for a verified caller.
            assert!(
                assertion.is_none() || matches!(counter, Counter::AllowedBearer | Counter::AllowedSession),
                "an assertion on {counter:?}: {headers:?}"
            );
            let ok = match counter {
                Counter::AllowedBypass => bypassed(path_part(path)),
                Counter::AllowedPreflight => preflight(headers),
                Counter::AllowedBearer => {
                    said.active || exact_token(headers, &[&scene.token, &scene.rotated_token, API_TOKEN])
                }
                Counter::AllowedSession => sealed_session(scene, headers),
                _ => false,
            };
            assert!(ok, "let through as {counter:?}: {headers:?}");
            if counter != Counter::AllowedBypass {
                assert!(!path_part(path).starts_with("/admin"), "let a non-admin under /admin: {headers:?}");
            }
        }
        Decision::Respond { counter, response, .. } => {
            if counter == Counter::LoginCompleted {
                assert!(said.id_token, "a login completed without the signed ID token: {headers:?}");
            }
            if let Some(location) = response.header("location") {
                let authority = headers.0.get(":authority").map_or("", String::as_str);
                assert!(safe_location(location, authority), "Location {location:?} for {headers:?}");
            }
        }
        _ => {}
    }
}

/// A CORS preflight as browsers send it: `OPTIONS`, `Origin`, `Access-Control-Request-Method`,
/// no credential of any kind.
fn preflight(headers: &MapHeaders) -> bool {
    let has = |name: &str| headers.0.contains_key(name);
    headers.0.get(":method").map(String::as_str) == Some("OPTIONS")
        && has("origin")
        && has("access-control-request-method")
        && !["cookie", "authorization", "flyte-authorization", "flwr-oidc-access-token"].iter().any(|n| has(n))
}

/// The fixture's bypass rules (`^/static/`, prefix `/healthz`, exact `/favicon.ico`), on a
/// plain path only.
fn bypassed(path: &str) -> bool {
    plain_path(path) && (path.starts_with("/static/") || path.starts_with("/healthz") || path == "/favicon.ico")
}

/// Some header that carries a bearer token holds exactly one of `tokens` (alone, or after
/// a case-insensitive `Bearer` and white space).
fn exact_token(headers: &MapHeaders, tokens: &[&str]) -> bool {
    ["authorization", "flyte-authorization", "flwr-oidc-access-token"].iter().any(|name| {
        let Some(value) = headers.0.get(*name) else { return false };
        let value = value.trim();
        tokens.iter().any(|t| {
            value == *t
                || value.strip_suffix(t).is_some_and(|scheme| {
                    let scheme = scheme.trim_end();
                    scheme.len() < value.len() - t.len() && scheme.eq_ignore_ascii_case("bearer")
                })
        })
    })
}

/// The `Cookie` header reassembles (whole, or chunks `_0`, `_1`, ... in order) exactly a
/// sealed value of the fixture.
fn sealed_session(scene: &Scene, headers: &MapHeaders) -> bool {
    let Some(cookie) = headers.0.get("cookie") else { return false };
    let name = session_config(&scene.config).cookies.session().to_string();
    let pairs: Vec<(&str, &str)> = cookie
        .split(';')
        .filter_map(|p| p.split_once('='))
        .map(|(n, v)| (n.trim(), v.trim().trim_matches('"')))
        .collect();
    let first = |n: &str| pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
    let mut candidates: Vec<String> = pairs.iter().filter(|(k, _)| *k == name).map(|(_, v)| v.to_string()).collect();
    let mut joined = String::new();
    for i in 0.. {
        let Some(v) = first(&format!("{name}_{i}")) else { break };
        joined.push_str(v);
    }
    candidates.push(joined);
    scene.sessions.iter().any(|(_, sealed)| candidates.iter().any(|c| c == sealed))
}

/// A `Location` on this origin (a local path or the request's own authority), the IdP's,
/// or an allowed host's.
fn safe_location(location: &str, authority: &str) -> bool {
    let b = location.as_bytes();
    if b.first() == Some(&b'/') {
        return !matches!(b.get(1), Some(b'/' | b'\\')) && !b.iter().any(|&c| c == b'\\' || c <= b' ' || c == 0x7f);
    }
    let lower = location.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://")) else { return false };
    let host = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    !b.iter().any(|&c| c <= b' ' || c == 0x7f)
        && (host == "idp.example.com"
            || host == ALLOWED_HOST
            || (!authority.is_empty() && host == authority.to_ascii_lowercase()))
}
