//! Hostile input for every parser on the request path, and for the whole decision with
//! keys, metadata and a session key loaded: random bytes and mutations of valid values.
//! Each must be refused (or parsed) without a panic (a panic aborts the whole VM in
//! Envoy), and no refusal may ever turn into an allow.

use serde_json::json;
use std::rc::Rc;

use crate::core::config::load;
use crate::core::gate::{bearer_token, Answer, Counter, Decision, Gate};
use crate::core::session;
use crate::core::testing::keys::{jwks, rsa_a, sign};
use crate::core::testing::{
    discovery, feed, login_config, session as alice, FixedRng as Rng, MapEnv, MapHeaders, TestIo, ISS, NOW_MS, NOW_S,
};
use crate::core::token::{decode, Alg, AlgSet, KeySet};
use crate::core::web::{cookies, form, path_rule, redirect};

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() as usize) % max;
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Text from an alphabet that hits the parsers' special characters often.
    fn text(&mut self, max: usize) -> String {
        const ALPHABET: &[u8] = b"aZ09._-~+/=%;,&?#\\\"' :\t\r\n{}[]eyJ";
        let n = (self.next() as usize) % max;
        (0..n).map(|_| ALPHABET[(self.next() as usize) % ALPHABET.len()] as char).collect()
    }
    fn mutate(&mut self, valid: &str) -> String {
        let mut b = valid.as_bytes().to_vec();
        for _ in 0..1 + self.next() % 4 {
            if b.is_empty() {
                break;
            }
            let i = (self.next() as usize) % b.len();
            match self.next() % 3 {
                0 => b[i] = self.next() as u8,
                1 => {
                    b.remove(i);
                }
                _ => b.insert(i, b"._=%;"[(self.next() % 5) as usize]),
            }
        }
        String::from_utf8_lossy(&b).into_owned()
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() as usize) % items.len()]
    }
}

#[test]
fn parsers_survive_random_and_mutated_input() {
    let mut r = XorShift(0x2545_f491_4f6c_dd1d);
    let key = rsa_a();
    let keys = KeySet::parse(jwks(&[(&key, "k1")]).as_bytes()).unwrap();
    let token =
        sign(&key, Alg::RS256, "k1", &json!({"iss": "https://i", "aud": "a", "exp": 2_000_000_000u64, "sub": "s"}));
    for _ in 0..3000 {
        let raw = r.bytes(300);
        let text = r.text(200);
        let mutated = r.mutate(&token);
        for t in [text.as_str(), mutated.as_str(), &String::from_utf8_lossy(&raw)] {
            if let Ok(u) = decode(t, AlgSet::all()) {
                let _ = u.verify(&keys);
            }
            let _ = bearer_token(Some(t));
            let _ = form::parse(t);
            let _ = cookies::parse(t).count();
            let _ = cookies::without(t, |n| n.starts_with("__Host"));
            let _ = redirect::safe_return(t, &["a.example".to_string()]);
            let _ = path_rule::is_normalized(t);
            let _ = KeySet::parse(t.as_bytes());
            let _ = crate::core::config::duration::parse(t);
            let _ = crate::core::web::AbsoluteUrl::parse(t);
        }
        let _ = load(&raw, &MapEnv::default());
        let _ = load(text.as_bytes(), &MapEnv::default());
    }
}

/// A gate with keys and metadata loaded, a valid bearer token, a valid session cookie,
/// and a started login (its flow cookie and state).
struct Scene {
    gate: Gate,
    token: String,
    session_cookie: String,
    flow_cookie: String,
    state: String,
}

fn scene() -> Scene {
    let config = Rc::new(login_config(json!({
        "identity_headers": {"x-user-id": "sub", "x-g": "groups"}, "bypass": [{"regex": "^/static/"}],
        "api_paths": [{"prefix": "/api/"}]})));
    let mut gate = Gate::new(config.clone());
    let clusters = config.clusters.clone();
    feed(&mut gate.providers[0], &clusters, &discovery(json!({})), &jwks(&[(&rsa_a(), "k1")]), NOW_MS);
    let login = config.login.as_ref().unwrap();
    let set = session::write(&login.session, &alice(NOW_S, json!({"groups": ["a"]})), &[], &mut Rng(0)).unwrap();
    let session_cookie = set[0].split(';').next().unwrap().to_string();
    let token = sign(&rsa_a(), Alg::RS256, "k1", &json!({"iss": ISS, "sub": "svc", "aud": "api", "exp": NOW_S + 3600}));
    let nav =
        MapHeaders::new(&[(":path", "/x"), (":method", "GET"), (":authority", "a.example"), ("accept", "text/html")]);
    let decision = TestIo::new(1).run(|io| gate.decide(&mut nav.clone(), NOW_MS, true, io));
    let Decision::Respond { response, .. } = decision else { panic!("no login redirect") };
    let location = response.header("location").unwrap().to_string();
    let q = form::parse(location.split_once('?').unwrap().1).unwrap();
    let state = form::get(&q, "state").unwrap().to_string();
    let flow_cookie = response.header("set-cookie").unwrap().split(';').next().unwrap().to_string();
    Scene { gate, token, session_cookie, flow_cookie, state }
}

#[test]
fn the_gate_never_lets_a_hostile_request_through() {
    let mut s = scene();
    let mut r = XorShift(0x1234_5678_9abc_def1);
    let paths = ["/", "/oauth2/callback", "/oauth2/logout", "/static/x", "/api/x"];
    let (mut allowed, mut calls) = (0, 0);
    for i in 0..4000 {
        let callback = i % 7 == 0;
        let path = if callback {
            format!("/oauth2/callback?code={}&state={}", r.text(10), if i % 2 == 0 { &s.state } else { "x" })
        } else {
            format!("{}{}", r.pick(&paths), r.text(40))
        };
        let cookie = match i % 4 {
            0 => r.mutate(&s.session_cookie),
            1 => s.session_cookie.clone(),
            2 => s.flow_cookie.clone(),
            _ => r.text(300),
        };
        let auth = match i % 6 {
            0 => Some(format!("Bearer {}", r.mutate(&s.token))),
            1 => Some(format!("Bearer {}", s.token)),
            2 => Some(format!("Bearer {}", r.text(200))),
            _ => None,
        };
        let mut h = MapHeaders::new(&[
            (":path", &path),
            (":method", r.pick(&["GET", "POST", "HEAD", ""])),
            (":authority", &if i % 3 == 0 { r.text(20) } else { "a.example".to_string() }),
            (":scheme", "https"),
            ("accept", "text/html"),
            ("cookie", &cookie),
        ]);
        if let Some(a) = &auth {
            h = h.with("authorization", a);
        }
        if i % 5 == 0 {
            h = h.with("sec-fetch-mode", &r.text(10));
        }
        let now = NOW_MS + (r.next() % 600_000);
        let mut io = TestIo::new(i as u8);
        let mut decision = io.run(|io| s.gate.decide(&mut h.clone(), now, i % 2 == 0, io));
        // A callback that reached the code exchange gets hostile answers from the "IdP".
        while let Decision::Call { pending, .. } = decision {
            calls += 1;
            let body = r.mutate(&json!({"id_token": s.token, "access_token": "at"}).to_string());
            let status = [Some(200), Some(400), None][(r.next() % 3) as usize];
            let answer = Answer { status, body: body.as_bytes() };
            decision = io.run(|io| s.gate.resume(pending, answer, now, &mut h.clone(), io));
        }
        match decision {
            Decision::Allow { counter, .. } => {
                allowed += 1;
                let ok = match counter {
                    Counter::AllowedBypass => path.starts_with("/static/"),
                    Counter::AllowedBearer => auth.as_deref() == Some(&format!("Bearer {}", s.token)),
                    Counter::AllowedSession => cookie == s.session_cookie && auth.is_none(),
                    _ => false,
                };
                assert!(ok, "let through as {counter:?}: {path:?} cookie {cookie:?} auth {auth:?}");
            }
            Decision::Respond { counter, .. } => assert_ne!(counter, Counter::LoginCompleted, "a session from garbage"),
            _ => {}
        }
    }
    assert!(allowed > 300, "the valid credentials must pass ({allowed})");
    assert!(calls > 50, "the code exchange must be reached ({calls})");
}
