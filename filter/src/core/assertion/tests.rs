use serde_json::{json, Value};

use crate::core::config::load;
use crate::core::testing::{config_json, MapEnv};

const EC_KEY: &str = include_str!("../../../testdata/ec-p256.pem");
const EC_SEC1: &str = include_str!("../../../testdata/ec-p256-sec1.pem");
const RSA_KEY: &str = include_str!("../../../testdata/rsa-a.pem");

fn errors_of(assertion: Value, extra: Value) -> Vec<String> {
    let mut overrides = json!({"assertion": assertion});
    for (k, v) in extra.as_object().unwrap() {
        overrides[k] = v.clone();
    }
    let env = MapEnv::with(&[("ASSERTION_KEY", EC_KEY)]);
    match load(config_json(overrides).to_string().as_bytes(), &env) {
        Ok(_) => vec![],
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_issue_example_loads_and_every_key_of_a_list_is_published() {
    let ok = json!({"header": "x-oidc-gate-assertion", "signing_key": {"env": "ASSERTION_KEY"}, "audience": "orders-app",
        "lifetime": "5m"});
    assert_eq!(errors_of(ok, json!({})), Vec::<String>::new());
    let env = MapEnv::with(&[("ASSERTION_KEY", EC_KEY)]);
    let two = config_json(json!({"assertion": {"signing_keys": [{"env": "ASSERTION_KEY"}, sec1_as_jwk_with_kid()],
        "audience": "a"}}));
    let c = load(two.to_string().as_bytes(), &env).unwrap();
    let a = c.assertion.unwrap();
    let jwks: Value = serde_json::from_str(&a.jwks_response().body).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    assert_eq!(jwks["keys"][1]["kid"], "next");
    assert_eq!((a.header.as_str(), a.lifetime.as_secs(), a.issuer), ("x-oidc-gate-assertion", 300, None));
}

/// The same P-256 key as EC_KEY would clash by kid; a JWK with its own kid does not.
fn sec1_as_jwk_with_kid() -> Value {
    use base64::Engine;
    use p256::pkcs8::EncodePrivateKey;
    let key = p256::SecretKey::from_sec1_pem(EC_SEC1).unwrap();
    let _ = key.to_pkcs8_der();
    let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key.public_key(), false);
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": "next", "d": b64(&key.to_bytes()),
        "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())});
    Value::String(jwk.to_string())
}

#[test]
fn mistakes_are_refused_naming_the_field_and_never_the_key() {
    let cases = [
        (
            json!({"audience": "a"}),
            "assertion.signing_key: required: a P-256 private key (PKCS#8 PEM or JWK), or signing_keys",
        ),
        (json!({"signing_key": EC_KEY}), "assertion.audience: required: the audience the app checks (its name or URL)"),
        (json!({"signing_key": RSA_KEY, "audience": "a"}), "assertion.signing_key: must be a P-256 (ES256) key"),
        (
            json!({"signing_key": "hunter2", "audience": "a"}),
            "assertion.signing_key: is not a private key (a PEM block or a JWK)",
        ),
        (
            json!({"signing_key": {"env": "NOPE"}, "audience": "a"}),
            "assertion.signing_key.env: names an environment variable that is not set in the VM",
        ),
        (
            json!({"signing_key": EC_KEY, "signing_keys": [EC_KEY], "audience": "a"}),
            "assertion.signing_keys: set signing_key or signing_keys, not both",
        ),
        (
            json!({"signing_keys": [EC_KEY, EC_SEC1], "audience": "a"}),
            "assertion.signing_keys[1]: has the kid of another key",
        ),
        (
            json!({"signing_key": EC_KEY, "audience": "a", "lifetime": "5s"}),
            "assertion.lifetime: must be between 10s and 1h",
        ),
        (
            json!({"signing_key": EC_KEY, "audience": "a", "lifetime": "2h"}),
            "assertion.lifetime: must be between 10s and 1h",
        ),
        (
            json!({"signing_key": EC_KEY, "audience": "a", "header": "X-Bad"}),
            "assertion.header: is not a valid header name (use lower-case letters, digits and '-')",
        ),
        (
            json!({"signing_key": EC_KEY, "audience": "a", "header": "x-user-id"}),
            "assertion.header: is already an identity header",
        ),
        (
            json!({"signing_key": EC_KEY, "audience": "a", "issuer": "gate"}),
            "assertion.issuer: must be an absolute http(s) URL without query",
        ),
        (json!({"signing_key": EC_KEY, "audience": "a", "key": EC_KEY}), "assertion.key: unknown key"),
    ];
    for (assertion, want) in cases {
        let errors = errors_of(assertion.clone(), json!({}));
        assert!(errors.iter().any(|e| e == want), "{assertion}: {errors:?}");
        assert!(!errors.iter().any(|e| e.contains("BEGIN") || e.contains("hunter2")), "{errors:?}");
    }
    assert_eq!(
        errors_of(json!({"signing_key": EC_KEY, "audience": "a"}), json!({"cors_preflight": "yes"})),
        vec!["cors_preflight: must be \"allow\" or \"refuse\""]
    );
}

#[test]
fn the_fixed_redirect_uri_gives_the_issuer() {
    let env = MapEnv::default();
    let cfg = config_json(json!({"client_secret": "s", "session": {"keys": [crate::core::testing::session_key(1)]},
        "redirect_uri": "https://app.example.com/oauth2/callback",
        "assertion": {"signing_key": EC_KEY, "audience": "a"}}));
    let c = load(cfg.to_string().as_bytes(), &env).unwrap();
    assert_eq!(c.assertion.unwrap().issuer.as_deref(), Some("https://app.example.com"));
    assert!(c.identity.kept.iter().any(|k| k == "iss") && c.identity.kept.iter().any(|k| k == "email"));
}
