//! Scenarios of the shell's contexts against the in-memory fake host (`abi_fake.rs`):
//! what a request ends as (passed on with which headers, or answered with what), not
//! which host calls were made in which order.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::Action;
use serde_json::json;
use std::collections::HashMap;

use super::abi::fake::{with, FakeHost, LocalReply};
use super::root::Root;
use crate::core::testing::keys::{jwks, rsa_a, sign};
use crate::core::token::Alg;
use crate::core::web::form;

pub(super) const ISS: &str = "https://idp.example.com";
pub(super) const NOW_MS: u64 = 1_800_000_000_000;
pub(super) const ROOT: u32 = 1;

pub(super) struct Rig {
    pub(super) root: Root,
    pub(super) https: HashMap<u32, Box<dyn HttpContext>>,
}

pub(super) fn config(extra: serde_json::Value) -> serde_json::Value {
    let mut c = json!({"issuer": ISS, "idp_cluster": "idp", "client_id": "web",
        "bearer": {"audiences": ["api"]}, "identity_headers": {"x-user-id": "sub"}});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

fn login_config() -> serde_json::Value {
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [6u8; 32]);
    config(json!({"client_secret": "s3cret", "session": {"keys": [key]}}))
}

fn token(claims: serde_json::Value) -> String {
    sign(&rsa_a(), Alg::RS256, "k1", &claims)
}

pub(super) fn api_token() -> String {
    token(json!({"iss": ISS, "sub": "u1", "aud": "api", "exp": NOW_MS / 1000 + 300}))
}

impl Rig {
    pub(super) fn start(plugin_config: &serde_json::Value) -> (Rig, bool) {
        with(|h| {
            *h = FakeHost::default();
            h.now_ns = NOW_MS * 1_000_000;
            h.plugin_config = plugin_config.to_string().into_bytes();
            h.clusters = vec!["idp".into()];
            h.current = ROOT;
            h.active = ROOT;
        });
        let mut rig = Rig { root: Root::default(), https: HashMap::new() };
        let ok = rig.root.on_configure(0);
        (rig, ok)
    }

    /// Answers callout number `n` (in the order they were made).
    pub(super) fn answer(&mut self, n: usize, status: u16, body: &str) {
        let callout = with(|h| {
            h.call_response = (vec![(":status".into(), status.to_string())], body.as_bytes().to_vec());
            h.callouts[n].clone()
        });
        with(|h| {
            h.current = callout.context;
            h.active = callout.context;
        });
        if callout.context == ROOT {
            self.root.on_http_call_response(callout.token, 1, body.len(), 0);
        } else if let Some(http) = self.https.get_mut(&callout.context) {
            http.on_http_call_response(callout.token, 1, body.len(), 0);
        }
    }

    /// Discovery and JWKS, answered.
    pub(super) fn load_keys(&mut self) {
        let doc = json!({"issuer": ISS, "jwks_uri": "https://idp.example.com/jwks",
            "authorization_endpoint": "https://idp.example.com/auth", "token_endpoint": "https://idp.example.com/token"});
        self.answer(0, 200, &doc.to_string());
        let a = rsa_a();
        self.answer(1, 200, &jwks(&[(&a, "k1")]));
    }

    pub(super) fn request(&mut self, id: u32, headers: &[(&str, &[u8])]) -> Action {
        with(|h| {
            h.current = id;
            h.active = id;
            h.request_headers.insert(id, headers.iter().map(|(n, v)| (n.to_string(), v.to_vec())).collect());
        });
        let mut http = self.root.create_http_context(id).unwrap();
        let action = http.on_http_request_headers(headers.len(), true);
        self.https.insert(id, http);
        action
    }

    pub(super) fn reply(&self, id: u32) -> Option<LocalReply> {
        with(|h| h.replies.get(&id).cloned())
    }

    fn upstream_header(&self, id: u32, name: &str) -> Vec<String> {
        with(|h| {
            h.request_headers[&id]
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                .collect()
        })
    }

    /// The root's timer.
    pub(super) fn tick(&mut self) {
        with(|h| {
            h.current = ROOT;
            h.active = ROOT;
        });
        self.root.on_tick();
    }

    /// The last callout made, and its number.
    pub(super) fn last_callout(&self) -> (usize, super::abi::fake::Callout) {
        with(|h| (h.callouts.len() - 1, h.callouts.last().cloned().unwrap()))
    }

    /// A counter as Envoy shows it (after the root's next flush).
    pub(super) fn counter(&self, name: &str) -> u64 {
        self.root.metrics.flush();
        with(|h| h.metrics.iter().filter(|(n, _)| n == name).map(|(_, v)| *v).sum())
    }
}

#[test]
fn a_bad_config_is_refused_with_every_error_logged() {
    let (_, ok) = Rig::start(&json!({"issuer": "not a url", "bearer": {"audiences": ["a"]}}));
    assert!(!ok);
    let logs = with(|h| h.logs.join("\n"));
    assert!(logs.contains("config error: issuer: contains spaces or control characters"), "{logs}");
    assert!(logs.contains("config error: idp_cluster: required"), "{logs}");
}

#[test]
fn a_request_before_the_keys_waits_then_passes_with_the_tokens_identity() {
    let (mut rig, ok) = Rig::start(&config(json!({})));
    assert!(ok);
    let first = with(|h| h.callouts[0].clone());
    assert_eq!(first.cluster, "idp");
    assert!(first.headers.contains(&(":path".into(), "/.well-known/openid-configuration".into())));
    let t = api_token();
    let auth = format!("Bearer {t}");
    let action = rig.request(2, &[(":path", b"/orders"), ("authorization", auth.as_bytes()), ("x-user-id", b"admin")]);
    assert_eq!(action, Action::Pause);
    assert!(rig.reply(2).is_none());
    rig.load_keys();
    assert_eq!(with(|h| h.resumed.clone()), vec![2]);
    assert_eq!(rig.upstream_header(2, "x-user-id"), vec!["u1"]);
    assert_eq!(rig.counter("oidc_gate.allowed.bearer"), 1);
    // The next request with the same token is a cache hit and passes at once.
    assert_eq!(rig.request(3, &[(":path", b"/orders"), ("authorization", auth.as_bytes())]), Action::Continue);
    assert_eq!(rig.counter("oidc_gate.token_cache.hit"), 1);
}

#[test]
fn a_request_that_waits_too_long_gets_503_and_a_gone_client_is_forgotten() {
    let (mut rig, _) = Rig::start(&config(json!({"startup_wait": "2s"})));
    let auth = format!("Bearer {}", api_token());
    assert_eq!(rig.request(2, &[(":path", b"/a"), ("authorization", auth.as_bytes())]), Action::Pause);
    assert_eq!(rig.request(3, &[(":path", b"/b"), ("authorization", auth.as_bytes())]), Action::Pause);
    // Client 3 hangs up.
    rig.https.get_mut(&3).unwrap().on_log();
    with(|h| h.gone.push(3));
    with(|h| h.now_ns += 2_500_000_000);
    rig.root.on_tick();
    assert_eq!(rig.reply(2).map(|r| r.status), Some(503));
    assert!(rig.reply(3).is_none());
    assert!(with(|h| h.resumed.is_empty()));
}

#[test]
fn identity_headers_in_other_spellings_never_reach_the_upstream() {
    let (mut rig, _) = Rig::start(&config(json!({"bypass": [{"prefix": "/healthz"}],
        "identity_headers": {"x-user-id": "sub", "x-user-email": "email"}})));
    rig.load_keys();
    let auth = format!("Bearer {}", api_token());
    let spoofed: [(&str, &[u8]); 4] = [
        ("x_user_email", b"ceo@corp.example"),
        ("x-user_email", b"ceo"),
        ("x_user_id", b"admin"),
        ("x_user-id", b"root"),
    ];
    let mut headers: Vec<(&str, &[u8])> = vec![(":path", b"/orders"), ("authorization", auth.as_bytes())];
    headers.extend(spoofed);
    assert_eq!(rig.request(2, &headers), Action::Continue);
    for (name, _) in spoofed {
        assert!(rig.upstream_header(2, name).is_empty(), "{name} reached the upstream");
    }
    assert_eq!(rig.upstream_header(2, "x-user-id"), vec!["u1"]);
    assert!(rig.upstream_header(2, "x-user-email").is_empty(), "the token has no email claim");
    // Bypassed requests too.
    let mut bypassed: Vec<(&str, &[u8])> = vec![(":path", b"/healthz")];
    bypassed.extend(spoofed);
    assert_eq!(rig.request(3, &bypassed), Action::Continue);
    for (name, _) in spoofed {
        assert!(rig.upstream_header(3, name).is_empty(), "{name} reached the upstream");
    }
}

#[test]
fn non_utf8_header_bytes_are_refused_not_a_crash() {
    let (mut rig, _) = Rig::start(&config(json!({"bypass": [{"prefix": "/healthz"}]})));
    rig.load_keys();
    assert_eq!(rig.request(2, &[(":path", b"/a"), ("authorization", b"Bearer \xff\xfe")]), Action::Pause);
    assert_eq!(rig.reply(2).map(|r| r.status), Some(401));
    // The bypass rule lets the plain path through; the same path with a byte that is not
    // UTF-8 never matches it.
    assert_eq!(rig.request(3, &[(":path", b"/healthz"), ("x-user-id", b"admin")]), Action::Continue);
    assert!(rig.upstream_header(3, "x-user-id").is_empty());
    assert_eq!(rig.request(4, &[(":path", b"/healthz\xff"), ("x-user-id", b"admin")]), Action::Pause);
    assert_eq!(rig.reply(4).map(|r| r.status), Some(401));
}

#[test]
fn a_browser_login_runs_through_the_callback_to_a_session() {
    let (mut rig, _) = Rig::start(&login_config());
    rig.load_keys();
    let nav: [(&str, &[u8]); 5] = [
        (":path", b"/app?x=1"),
        (":method", b"GET"),
        (":authority", b"app.example.com"),
        (":scheme", b"https"),
        ("accept", b"text/html"),
    ];
    assert_eq!(rig.request(2, &nav), Action::Pause);
    let start = rig.reply(2).unwrap();
    assert_eq!(start.status, 302);
    let location = start.header("location").unwrap().to_string();
    let q = form::parse(location.split_once('?').unwrap().1).unwrap();
    let (state, nonce) = (form::get(&q, "state").unwrap().to_string(), form::get(&q, "nonce").unwrap().to_string());
    let flow_cookie = start.header("set-cookie").unwrap().split(';').next().unwrap().to_string();

    let callback = format!("/oauth2/callback?code=c0de&state={state}");
    let cb: [(&str, &[u8]); 5] = [
        (":path", callback.as_bytes()),
        (":method", b"GET"),
        (":authority", b"app.example.com"),
        (":scheme", b"https"),
        ("cookie", flow_cookie.as_bytes()),
    ];
    assert_eq!(rig.request(3, &cb), Action::Pause);
    let exchange = with(|h| h.callouts.last().cloned().unwrap());
    assert_eq!(exchange.context, 3);
    assert!(exchange.headers.contains(&(":path".into(), "/token".into())));
    assert!(exchange.headers.iter().any(|(n, v)| n == "authorization" && v.starts_with("Basic ")));
    let body = String::from_utf8(exchange.body.unwrap()).unwrap();
    assert!(body.contains("code=c0de") && body.contains("code_verifier="));

    let id_token = token(json!({"iss": ISS, "sub": "alice", "aud": "web", "exp": NOW_MS / 1000 + 300,
        "iat": NOW_MS / 1000, "nonce": nonce}));
    let n = with(|h| h.callouts.len()) - 1;
    rig.answer(n, 200, &json!({"id_token": id_token, "access_token": "at", "token_type": "Bearer"}).to_string());
    let done = rig.reply(3).unwrap();
    assert_eq!((done.status, done.header("location")), (302, Some("/app?x=1")));
    let session = done
        .headers
        .iter()
        .find(|(n, v)| n == "set-cookie" && v.starts_with("__Host-oidc_session="))
        .map(|(_, v)| v.split(';').next().unwrap().to_string())
        .unwrap();
    assert_eq!(rig.counter("oidc_gate.login.completed"), 1);

    let cookie = format!("theme=dark; {session}");
    let page: [(&str, &[u8]); 6] = [
        (":path", b"/app"),
        (":method", b"GET"),
        (":authority", b"app.example.com"),
        ("accept", b"text/html"),
        ("cookie", cookie.as_bytes()),
        ("x-user-id", b"mallory"),
    ];
    with(|h| h.calls.clear());
    assert_eq!(rig.request(4, &page), Action::Continue);
    // Every header in one read; the identity header and the Cookie (without the session)
    // set. Counters are handed to Envoy on the root's tick, not per request.
    let calls = with(|h| std::mem::take(&mut h.calls));
    assert_eq!(calls, ["current_time_nanos", "header_pairs", "replace_header", "replace_header"]);
    assert_eq!(rig.upstream_header(4, "x-user-id"), vec!["alice"]);
    assert_eq!(rig.upstream_header(4, "cookie"), vec!["theme=dark"]);
}

#[test]
fn the_token_endpoint_refusing_the_code_ends_on_a_page() {
    let (mut rig, _) = Rig::start(&login_config());
    rig.load_keys();
    let nav: [(&str, &[u8]); 4] =
        [(":path", b"/"), (":method", b"GET"), (":authority", b"app.example.com"), ("accept", b"text/html")];
    rig.request(2, &nav);
    let start = rig.reply(2).unwrap();
    let location = start.header("location").unwrap().to_string();
    let q = form::parse(location.split_once('?').unwrap().1).unwrap();
    let flow_cookie = start.header("set-cookie").unwrap().split(';').next().unwrap().to_string();
    let callback = format!("/oauth2/callback?code=used&state={}", form::get(&q, "state").unwrap());
    let cb: [(&str, &[u8]); 4] = [
        (":path", callback.as_bytes()),
        (":method", b"GET"),
        (":authority", b"app.example.com"),
        ("cookie", flow_cookie.as_bytes()),
    ];
    rig.request(3, &cb);
    let n = with(|h| h.callouts.len()) - 1;
    rig.answer(n, 400, r#"{"error":"invalid_grant"}"#);
    let page = rig.reply(3).unwrap();
    assert_eq!(page.status, 502);
    assert!(page.body.contains("invalid_grant"));
    assert!(!page.headers.iter().any(|(n, v)| n == "set-cookie" && v.starts_with("__Host-oidc_session=")));
    assert!(with(|h| h
        .logs
        .iter()
        .any(|l| l.contains("login failed: token endpoint answered Some(400) invalid_grant"))));
}

/// A login flow cookie as `start` would have set it, for a callback that comes before any
/// start on this Envoy (right after a restart): (state, nonce, Cookie header).
fn flow_cookie(plugin_config: &serde_json::Value, target: &str) -> (String, String, String) {
    let cfg = crate::core::config::load(plugin_config.to_string().as_bytes(), &crate::core::testing::MapEnv::default())
        .unwrap();
    let session = &cfg.login.as_ref().unwrap().session;
    let mut rng = crate::core::testing::FixedRng(40);
    let flow = crate::core::login::Flow::new(target, NOW_MS / 1000, &mut rng);
    let cookie = flow.set_cookie(session, &mut rng).unwrap().split(';').next().unwrap().to_string();
    (flow.state, flow.nonce, cookie)
}

fn callback_request(state: &str, cookie: &str) -> (String, String) {
    (format!("/oauth2/callback?code=c0de&state={state}"), cookie.to_string())
}

fn token_response(kid_key: &crate::core::testing::keys::TestKey, kid: &str, nonce: &str) -> String {
    let id_token = sign(
        kid_key,
        Alg::RS256,
        kid,
        &json!({"iss": ISS, "sub": "alice", "aud": "web",
        "exp": NOW_MS / 1000 + 300, "iat": NOW_MS / 1000, "nonce": nonce}),
    );
    json!({"id_token": id_token, "access_token": "at", "token_type": "Bearer"}).to_string()
}

#[test]
fn a_callback_before_the_keys_waits_for_them_and_the_login_completes() {
    let cfg = login_config();
    let (mut rig, _) = Rig::start(&cfg);
    let (state, nonce, cookie) = flow_cookie(&cfg, "/app");
    let (path, cookie) = callback_request(&state, &cookie);
    let cb: [(&str, &[u8]); 4] = [
        (":path", path.as_bytes()),
        (":method", b"GET"),
        (":authority", b"app.example.com"),
        ("cookie", cookie.as_bytes()),
    ];
    assert_eq!(rig.request(2, &cb), Action::Pause);
    assert!(rig.reply(2).is_none(), "no page while the keys load");
    rig.load_keys();
    // The root took the callback up again and made its code exchange.
    let (n, exchange) = rig.last_callout();
    assert_eq!((exchange.context, exchange.headers.iter().any(|(k, v)| k == ":path" && v == "/token")), (ROOT, true));
    rig.answer(n, 200, &token_response(&rsa_a(), "k1", &nonce));
    let done = rig.reply(2).unwrap();
    assert_eq!((done.status, done.header("location")), (302, Some("/app")));
    assert!(done.headers.iter().any(|(n, v)| n == "set-cookie" && v.starts_with("__Host-oidc_session=")));
    assert_eq!(rig.counter("oidc_gate.login.completed"), 1);
}

#[test]
fn an_id_token_signed_by_a_new_key_gets_one_refetch_and_the_login_completes() {
    let cfg = login_config();
    for refetched_has_the_key in [true, false] {
        let (mut rig, _) = Rig::start(&cfg);
        rig.load_keys();
        let (state, nonce, cookie) = flow_cookie(&cfg, "/app");
        let (path, cookie) = callback_request(&state, &cookie);
        let cb: [(&str, &[u8]); 4] = [
            (":path", path.as_bytes()),
            (":method", b"GET"),
            (":authority", b"app.example.com"),
            ("cookie", cookie.as_bytes()),
        ];
        assert_eq!(rig.request(3, &cb), Action::Pause);
        let (n, _) = rig.last_callout();
        // The IdP rotated: its ID token names k2, which the loaded JWKS lacks.
        let b = crate::core::testing::keys::rsa_b();
        rig.answer(n, 200, &token_response(&b, "k2", &nonce));
        assert!(rig.reply(3).is_none(), "the callback waits for the re-fetch");
        rig.tick();
        let (n, refetch) = rig.last_callout();
        assert_eq!((refetch.context, refetch.headers.iter().any(|(k, v)| k == ":path" && v == "/jwks")), (ROOT, true));
        let keys =
            if refetched_has_the_key { jwks(&[(&rsa_a(), "k1"), (&b, "k2")]) } else { jwks(&[(&rsa_a(), "k1")]) };
        rig.answer(n, 200, &keys);
        let reply = rig.reply(3).unwrap();
        if refetched_has_the_key {
            assert_eq!((reply.status, reply.header("location")), (302, Some("/app")));
        } else {
            assert_eq!(reply.status, 502, "a kid still unknown after the re-fetch fails");
            assert!(with(|h| h.logs.iter().any(|l| l.contains("login failed: ID token refused: unknown_key"))));
        }
        rig.tick();
        assert_eq!(rig.last_callout().0, n, "one re-fetch, no more");
    }
}

/// The hot path's cost in calls into Envoy: the clock, every request header in one read,
/// then only what changes (a spoofed spelling removed, the identity header set). A regression here shows
/// in `scripts/bench` as a lower ratio to the no-op floor.
#[test]
fn a_cached_bearer_token_costs_four_host_calls_and_a_repeated_one_is_refused() {
    let (mut rig, _) =
        Rig::start(&config(json!({"bearer": {"audiences": ["api"], "token_headers": ["flyte-authorization"]},
        "identity_headers": {"x-user-id": "sub", "x-user-email": "email"}})));
    rig.load_keys();
    let t = format!("Bearer {}", api_token());
    let req: [(&str, &[u8]); 4] =
        [(":path", b"/app"), (":method", b"GET"), ("authorization", t.as_bytes()), ("x_user_id", b"mallory")];
    assert_eq!(rig.request(2, &req), Action::Continue);
    with(|h| h.calls.clear());
    assert_eq!(rig.request(3, &req), Action::Continue);
    let calls = with(|h| std::mem::take(&mut h.calls));
    // The token has no email: `x-user-email` costs a call only when the request has one.
    assert_eq!(calls, ["current_time_nanos", "header_pairs", "remove_header", "replace_header"]);
    assert_eq!(rig.upstream_header(3, "x-user-id"), vec!["u1"]);
    let sent: [(&str, &[u8]); 3] = [(":path", b"/app"), ("authorization", t.as_bytes()), ("x-user-email", b"ceo@corp")];
    assert_eq!(rig.request(5, &sent), Action::Continue);
    assert!(rig.upstream_header(5, "x-user-email").is_empty());
    // The counts reach Envoy on the root's tick, all three requests' in one call per counter.
    let shown = |name: &str| with(|h| h.metrics.iter().filter(|(n, _)| n == name).map(|(_, v)| *v).sum::<u64>());
    assert_eq!(shown("oidc_gate.allowed.bearer"), 0);
    rig.tick();
    assert_eq!(shown("oidc_gate.allowed.bearer"), 3);
    assert!(rig.upstream_header(3, "x_user_id").is_empty());
    // A credential header Envoy keeps as two entries (one it does not fold, unlike
    // `authorization`): read as one value, which is no token, never as the first of two.
    let twice: [(&str, &[u8]); 3] =
        [(":path", b"/app"), ("flyte-authorization", t.as_bytes()), ("flyte-authorization", b"Bearer forged")];
    assert_eq!(rig.request(4, &twice), Action::Pause);
    assert_eq!(rig.reply(4).unwrap().status, 401);
}

/// Envoy keeps each HTTP/1 `Cookie` line as its own entry, and apps read them all: the
/// filter's cookie on a second line is seen and stripped (on a bypassed path and beside a
/// bearer token), never hidden from the filter behind a `,` and passed upstream.
#[test]
fn a_session_cookie_on_a_second_cookie_line_never_reaches_the_upstream() {
    let mut c = login_config();
    c["bypass"] = json!([{"prefix": "/healthz"}]);
    let (mut rig, _) = Rig::start(&c);
    rig.load_keys();
    let auth = format!("Bearer {}", api_token());
    let lines: [(&str, &[u8]); 2] = [("cookie", b"theme=dark"), ("cookie", b"__Host-oidc_session=AQsecret")];
    let mut bypassed: Vec<(&str, &[u8])> = vec![(":path", b"/healthz")];
    bypassed.extend(lines);
    assert_eq!(rig.request(2, &bypassed), Action::Continue);
    assert_eq!(rig.upstream_header(2, "cookie"), vec!["theme=dark"]);
    let mut bearer: Vec<(&str, &[u8])> = vec![(":path", b"/orders"), ("authorization", auth.as_bytes())];
    bearer.extend(lines);
    assert_eq!(rig.request(3, &bearer), Action::Continue);
    assert_eq!(rig.upstream_header(3, "cookie"), vec!["theme=dark"]);
}
