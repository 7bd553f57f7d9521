//! Hostile input for every parser on the request path: random bytes and mutations of
//! valid values. Each must be refused (or parsed) without a panic; a panic would abort
//! the whole VM in Envoy.

use crate::core::config::load;
use crate::core::gate::{bearer_token, Gate, RequestHeaders};
use crate::core::jwk::KeySet;
use crate::core::jwt::{decode, Alg, AlgSet};
use crate::core::seal::tests::Counter as Rng;
use crate::core::secret::ProcessEnv;
use crate::core::testkeys::{jwks, rsa_a, sign};
use crate::core::{cookies, form, redirect, rules, session};
use base64::Engine;
use serde_json::json;
use std::collections::HashMap;
use std::rc::Rc;

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
}

struct Headers(HashMap<String, String>);
impl RequestHeaders for Headers {
    fn get(&mut self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
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
                let _ = u.verify_signature(&keys);
            }
            let _ = bearer_token(Some(t));
            let _ = form::parse(t);
            let _ = cookies::parse(t).count();
            let _ = cookies::without(t, |n| n.starts_with("__Host"));
            let _ = redirect::safe_return(t, &["a.example".to_string()]);
            let _ = rules::is_normalized(t);
            let _ = KeySet::parse(t.as_bytes());
            let _ = crate::core::duration::parse(t);
            let _ = crate::core::url::AbsoluteUrl::parse(t);
        }
        let _ = load(&raw, &ProcessEnv);
        let _ = load(text.as_bytes(), &ProcessEnv);
    }
}

#[test]
fn the_gate_survives_hostile_requests() {
    let k = base64::engine::general_purpose::STANDARD.encode([8u8; 32]);
    let cfg = json!({"issuer": "https://idp.example.com", "idp_cluster": "idp", "client_id": "web", "client_secret": "s",
        "identity_headers": {"x-user-id": "sub", "x-g": "groups"}, "bypass": [{"regex": "^/static/"}],
        "api_paths": [{"prefix": "/api/"}], "session": {"keys": [k]}});
    let config = Rc::new(load(cfg.to_string().as_bytes(), &ProcessEnv).unwrap());
    let login = config.login.as_ref().unwrap();
    let s = session::Session {
        sub: "alice".into(),
        iat: 1_800_000_000,
        exp: 1_800_003_600,
        seen: 1_800_000_000,
        claims: json!({"sub": "alice", "groups": ["a"]}).as_object().unwrap().clone(),
        id_token: None,
    };
    let valid_cookie = session::write(login, &s, &[], &mut Rng(0)).unwrap()[0].split(';').next().unwrap().to_string();
    let mut gate = Gate::new(config.clone());
    let mut r = XorShift(0x1234_5678_9abc_def1);
    let paths = ["/", "/oauth2/callback", "/oauth2/logout", "/static/x", "/api/x"];
    for i in 0..3000 {
        let path = format!("{}{}", paths[i % paths.len()], r.text(40));
        let mut h = HashMap::from([
            (":path".to_string(), path),
            (":method".to_string(), ["GET", "POST", "HEAD", ""][i % 4].to_string()),
            (":authority".to_string(), r.text(20)),
            (":scheme".to_string(), "https".to_string()),
            ("accept".to_string(), "text/html".to_string()),
            ("cookie".to_string(), if i % 2 == 0 { r.mutate(&valid_cookie) } else { r.text(300) }),
        ]);
        if i % 3 == 0 {
            h.insert("authorization".to_string(), format!("Bearer {}", r.text(200)));
        }
        if i % 5 == 0 {
            h.insert("sec-fetch-mode".to_string(), r.text(10));
        }
        let now = 1_800_000_000_000 + (r.next() % 10_000_000);
        let _ = gate.decide(&mut Headers(h), now, i % 2 == 0, &mut Rng(i as u8), &mut |_| {});
    }
}
