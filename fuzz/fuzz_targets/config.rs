//! The plugin configuration: `config::load` on any bytes, with an environment.
//!
//! Input: the config's bytes. The seeds are real configs (the fixture, the samples' shapes).
//! Each input is loaded twice: as it is, then (when it is a JSON object) with a marker
//! secret put in every secret field (`client_secret`, each of `session.keys`, or `keys`
//! itself when it is not a list), in one of several shapes chosen by the input: inline,
//! base64 of the wrong length, a valid key, `{"env": NAME}` set, unset or empty, an
//! unknown key, a number.
//! Properties:
//! - nothing panics;
//! - no error (field or message) ever contains a secret: the environment's values, the
//!   markers, nor an `env` name;
//! - a config that loads never shows a secret in its `Debug`.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use oidc_gate::core::config::{load, ConfigError};
use oidc_gate_fuzz::MapEnv;
use serde_json::{json, Value};

const ENV_SECRET: &str = "MARKERenvSecret-a1b2";
const ENV_NAME: &str = "MARKER_ENV_NAME";
const INLINE: &str = "MARKERinline-s3cret!";
const NUMBER: u64 = 987_654_321_987;
/// 32 bytes: base64 of it is a valid session key.
const KEY_BYTES: &[u8; 32] = b"MARKER-KEY-0123456789abcdefghijk";
/// 17 bytes: base64 of it is a key of the wrong length.
const SHORT_BYTES: &[u8] = b"MARKERshortKey-17";

thread_local! {
    static ENV: MapEnv = MapEnv(
        [("CS", ENV_SECRET), ("KEY", ENV_SECRET), ("EMPTY", "")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    );
}

fn markers() -> Vec<String> {
    vec![
        ENV_SECRET.into(),
        ENV_NAME.into(),
        INLINE.into(),
        NUMBER.to_string(),
        STANDARD.encode(KEY_BYTES),
        STANDARD.encode(SHORT_BYTES),
        "MARKER".into(),
    ]
}

fn shape(choice: u8) -> Value {
    match choice % 8 {
        0 => json!(INLINE),
        1 => json!(STANDARD.encode(SHORT_BYTES)),
        2 => json!(STANDARD.encode(KEY_BYTES)),
        3 => json!({"env": ENV_NAME}),
        4 => json!({"env": "CS"}),
        5 => json!({"env": "EMPTY"}),
        6 => json!({"nv": INLINE}),
        _ => json!(NUMBER),
    }
}

fn check(errors: &[ConfigError], secrets: &[String], input: &str) {
    for e in errors {
        for s in secrets {
            assert!(
                !e.field.contains(s.as_str()) && !e.message.contains(s.as_str()),
                "error {e} shows a secret ({s:?}); config: {input}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    ENV.with(|env| run(env, data));
});

fn run(env: &MapEnv, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // A marker the input already holds elsewhere may be echoed as a key name: not a secret.
    let secrets: Vec<String> = markers().into_iter().filter(|m| !text.contains(m.as_str())).collect();
    match load(data, env) {
        Err(errors) => check(&errors, &secrets, &text),
        Ok(config) => {
            // Only a value the input did not hold itself can be a secret read from the
            // environment (libFuzzer learns the markers from these very comparisons and
            // puts them in plain fields such as `realm`).
            let shown = format!("{config:?}");
            for s in &secrets {
                assert!(!shown.contains(s.as_str()), "Debug shows a secret ({s:?})");
            }
        }
    }

    let Ok(Value::Object(mut cfg)) = serde_json::from_slice::<Value>(data) else { return };
    let choice = data.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    cfg.insert("client_secret".into(), shape(choice));
    if let Some(Value::Object(session)) = cfg.get_mut("session") {
        match session.get_mut("keys") {
            Some(Value::Array(keys)) => {
                for (i, k) in keys.iter_mut().enumerate() {
                    *k = shape(choice.wrapping_add(i as u8 + 1));
                }
            }
            Some(other) => *other = shape(choice.wrapping_add(1)),
            None => {}
        }
    }
    let with_secrets = Value::Object(cfg).to_string();
    match load(with_secrets.as_bytes(), env) {
        Err(errors) => check(&errors, &secrets, &with_secrets),
        Ok(config) => {
            let shown = format!("{config:?}");
            for s in &secrets {
                assert!(!shown.contains(s.as_str()), "Debug of a loaded config shows a secret ({s:?})");
            }
        }
    }
}
