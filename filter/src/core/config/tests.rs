use super::*;
use crate::core::idp::CalloutTarget;
use crate::core::testing::MapEnv;
use crate::core::web::AbsoluteUrl;
use serde_json::{json, Value};

pub(super) fn env() -> MapEnv {
    MapEnv::with(&[("OIDC_CLIENT_SECRET", "s3cret")])
}

fn base() -> Value {
    json!({
        "issuer": "https://idp.example.com",
        "idp_cluster": "idp",
        "client_id": "web",
    })
}

/// Merges `overrides` into the base config; a `null` value removes the key.
pub(super) fn with(overrides: Value) -> Value {
    let mut cfg = base();
    let obj = cfg.as_object_mut().unwrap();
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            obj.remove(k);
        } else {
            obj.insert(k.clone(), v.clone());
        }
    }
    cfg
}

pub(super) fn errors_of(cfg: Value) -> Vec<String> {
    match load(cfg.to_string().as_bytes(), &env()) {
        Ok(_) => vec![],
        Err(errs) => errs.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_issue_example_loads() {
    let cfg = json!({
        "issuer": "https://idp.example.com",
        "idp_cluster": "idp",
        "idp_clusters": {"other-host.example.com": "other_cluster"},
        "client_id": "web",
        "client_secret": {"env": "OIDC_CLIENT_SECRET"},
        "bearer": {
            "audiences": ["api://orders"],
            "issuers": [{"issuer": "https://other-as.example.com", "audiences": ["api://orders"]}]
        },
        "identity_headers": {"x-user-id": "sub", "x-user-email": "email", "x-user-groups": "groups"},
        "bypass": [{"prefix": "/healthz"}, {"exact": "/favicon.ico"}, {"regex": "^/static/"}],
        "clock_skew": "60s"
    });
    let c = load(cfg.to_string().as_bytes(), &env()).unwrap();
    assert_eq!(c.issuers.len(), 2);
    assert_eq!(c.issuers[0].discovery_url.as_string(), "https://idp.example.com/.well-known/openid-configuration");
    assert_eq!(c.issuers[0].audiences, vec!["api://orders"]);
    assert_eq!(c.issuers[1].issuer, "https://other-as.example.com");
    assert_eq!(c.client.secret.as_ref().unwrap().expose(), "s3cret");
    assert_eq!(c.identity.headers.len(), 3);
    assert_eq!(c.bypass.len(), 3);
    assert_eq!(c.clock_skew, Duration::from_secs(60));
    let other = AbsoluteUrl::parse("https://other-host.example.com/jwks").unwrap();
    assert_eq!(c.clusters.target(&other).cluster, "other_cluster");
    let main = AbsoluteUrl::parse("https://idp.example.com/jwks").unwrap();
    assert_eq!(
        c.clusters.target(&main),
        CalloutTarget { cluster: "idp".into(), authority: "idp.example.com".into(), path: "/jwks".into() }
    );
    // Secrets never show in the config's Debug output.
    assert!(!format!("{c:?}").contains("s3cret"));
}

#[test]
fn defaults() {
    let c = load(base().to_string().as_bytes(), &env()).unwrap();
    assert!(c.issuers[0].audiences.is_empty(), "no default audience: client_id would let ID tokens in");
    assert_eq!(c.clock_skew, Duration::from_secs(60));
    assert_eq!(c.bearer.cache_size, defaults::CACHE_SIZE);
    assert_eq!(c.metadata_refresh, Duration::from_secs(600));
    assert_eq!(c.jwks_refetch_min_interval, Duration::from_secs(30));
    assert_eq!(c.startup_wait, Duration::from_secs(5));
    assert_eq!(c.realm, "oidc-gate");
    assert_eq!(c.bearer.algorithms, crate::core::token::AlgSet::all());
}

#[test]
fn errors_name_their_field_exactly() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (with(json!({"issuer": null})), vec!["issuer: required: the OpenID provider's issuer URL (or github)"]),
        (with(json!({"isuer": "x"})), vec!["isuer: unknown key"]),
        (with(json!({"bearer": {"audience": []}})), vec!["bearer.audience: unknown key"]),
        (
            with(json!({"bearer": {"issuers": [{"issuer": "https://a", "audiences": ["x"], "jwks": "y"}]}})),
            vec!["bearer.issuers[0].jwks: unknown key"],
        ),
        (with(json!({"issuer": "idp.example.com"})), vec!["issuer: must be an absolute URL like https://host/path"]),
        (with(json!({"idp_cluster": null})), vec!["idp_cluster: required: the Envoy cluster that reaches the OpenID provider"]),
        (with(json!({"client_id": null})), vec![]),
        (with(json!({"client_secret": {"env": "NOPE"}})), vec!["client_secret.env: names an environment variable that is not set in the VM"]),
        (with(json!({"client_secret": 5})), vec!["client_secret: a secret is a string or {\"env\": \"NAME\"}"]),
        (with(json!({"clock_skew": "60"})), vec!["clock_skew: is not a duration: use a number with a unit, e.g. \"30s\", \"10m\", \"8h\""]),
        (with(json!({"clock_skew": 60})), vec!["clock_skew: invalid type: integer, expected a string"]),
        (with(json!({"bypass": [{"regex": "(["}]})), vec!["bypass[0]: invalid regex: found unclosed character class"]),
        (with(json!({"identity_headers": {"X-User": "sub"}})), vec!["identity_headers.X-User: is not a valid header name (use lower-case letters, digits and '-')"]),
        (with(json!({"bearer": {"algorithms": ["HS256"]}})), vec!["bearer.algorithms[0]: is not allowed; choose from RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA"]),
        (with(json!({"bearer": {"algorithms": ["none"]}})), vec!["bearer.algorithms[0]: is not allowed; choose from RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA"]),
        (with(json!({"bearer": {"issuers": [{"issuer": "https://b"}]}})), vec!["bearer.issuers[0].audiences: required: at least one non-empty audience"]),
        (
            with(json!({"bearer": {"issuers": [{"issuer": "https://idp.example.com", "audiences": ["a"]}]}})),
            vec!["bearer.issuers[0].issuer: is listed twice"],
        ),
        (with(json!({"realm": "a\"b"})), vec!["realm: must be printable ASCII without quotes or backslashes"]),
    ];
    for (cfg, want) in cases {
        assert_eq!(errors_of(cfg.clone()), want, "config: {cfg}");
    }
}

#[test]
fn every_semantic_error_is_reported_at_once() {
    let cfg = json!({
        "issuer": "ftp://x",
        "idp_cluster": "",
        "client_id": "web",
        "clock_skew": "1y",
        "bypass": [{"prefix": "nope"}],
    });
    assert_eq!(
        errors_of(cfg),
        vec![
            "issuer: scheme must be http or https",
            "idp_cluster: required: the Envoy cluster that reaches the OpenID provider",
            "bypass[0]: the path must start with \"/\"",
            "clock_skew: is not a duration: use a number with a unit, e.g. \"30s\", \"10m\", \"8h\"",
        ]
    );
}

#[test]
fn errors_never_echo_a_value_that_may_be_a_secret() {
    let cases = [
        with(json!({"session": {"keys": "c2VjcmV0LWtleS1kby1ub3QtbG9n"}})),
        with(json!({"session": {"keys": ["ok", {"env": "c2VjcmV0LWtleS1kby1ub3QtbG9n", "x": 1}]}})),
        with(json!({"client_id": ["c2VjcmV0LWtleS1kby1ub3QtbG9n"]})),
        with(json!({"session": "c2VjcmV0LWtleS1kby1ub3QtbG9n"})),
        with(json!({"bearer": {"cache_size": "c2VjcmV0LWtleS1kby1ub3QtbG9n"}})),
    ];
    for cfg in cases {
        let errors = errors_of(cfg.clone());
        assert!(!errors.is_empty(), "{cfg}");
        for e in &errors {
            assert!(!e.contains("c2VjcmV0"), "{e}");
        }
    }
    assert_eq!(
        errors_of(with(json!({"session": {"keys": "c2VjcmV0LWtleS1kby1ub3QtbG9n"}}))),
        vec!["session.keys: invalid type: string, expected a sequence"]
    );
}

/// A value that must never reach a log line, put into every key that can refuse a value.
const SECRET: &str = "c2VjcmV0LWtleS1kby1ub3QtbG9n";

#[test]
fn no_error_repeats_the_value_it_refused() {
    let key = crate::core::testing::session_key(1);
    let login = |k: &str, v: Value| {
        let mut o = json!({"client_secret": "s", "session": {"keys": [key.clone()]}});
        o[k] = v;
        with(o)
    };
    let session = |k: &str, v: Value| {
        let mut s = json!({"keys": [key.clone()]});
        s[k] = v;
        with(json!({"client_secret": "s", "session": s}))
    };
    let cases = [
        with(json!({"issuer": SECRET})),
        with(json!({"issuer": format!("https://{SECRET}/?q")})),
        with(json!({"bearer": {"issuers": [{"issuer": SECRET, "audiences": ["a"]}]}})),
        with(json!({"bearer": {"algorithms": [SECRET]}})),
        with(json!({"bearer": {"cache_size": SECRET}})),
        with(json!({"client_secret": {"env": SECRET}})),
        with(json!({"client_auth": SECRET})),
        with(json!({"clock_skew": SECRET})),
        with(json!({"metadata_refresh": SECRET})),
        with(json!({"idp_timeout": SECRET})),
        with(json!({"startup_wait": SECRET})),
        with(json!({"jwks_refetch_min_interval": SECRET})),
        with(json!({"realm": format!("{SECRET}\"")})),
        with(json!({"bypass": [{"regex": format!("({SECRET}")}]})),
        with(json!({"bypass": [{"prefix": SECRET}]})),
        with(json!({"identity_headers": {"x": SECRET, "y": ""}})),
        login("callback_path", json!(SECRET)),
        login("logout_path", json!(SECRET)),
        login("redirect_uri", json!(SECRET)),
        login("post_logout_redirect", json!(SECRET)),
        login("scopes", json!([SECRET])),
        login("allowed_redirect_hosts", json!([format!("{SECRET}/")])),
        login("api_paths", json!([{"exact": SECRET}])),
        session("keys", json!([SECRET])),
        session("keys", json!(SECRET)),
        session("cookie_name", json!(format!("{SECRET} "))),
        session("lifetime", json!(SECRET)),
        session("idle_timeout", json!(SECRET)),
        session("keep_id_token", json!(SECRET)),
        with(json!({"client_id": [SECRET]})),
        with(json!({"session": SECRET})),
    ];
    for cfg in cases {
        let errors = errors_of(cfg.clone());
        assert!(!errors.is_empty(), "no error for {cfg}");
        for e in &errors {
            assert!(!e.contains("c2VjcmV0"), "{e}");
        }
    }
}

#[test]
fn login_keys_without_a_session_are_each_refused() {
    let errs = errors_of(with(json!({"scopes": ["openid"], "logout_path": "/out", "client_auth": "none"})));
    assert_eq!(
        errs,
        vec![
            "client_auth: needs \"session\" (browser login is on only with session keys)",
            "scopes: needs \"session\" (browser login is on only with session keys)",
            "logout_path: needs \"session\" (browser login is on only with session keys)",
        ]
    );
}

#[test]
fn not_json_is_an_error_not_a_panic() {
    assert_eq!(errors_of_text(b"{"), vec!["(config): EOF while parsing an object"]);
    assert_eq!(errors_of_text(b"[]"), vec!["(config): must be a JSON object"]);
    assert_eq!(errors_of_text(&[0xff, 0xfe]), vec!["(config): is not UTF-8"]);
    assert_eq!(
        errors_of_text(b""),
        vec![
            "issuer: required: the OpenID provider's issuer URL (or github)",
            "idp_cluster: required: the Envoy cluster that reaches the OpenID provider"
        ]
    );
}

fn errors_of_text(bytes: &[u8]) -> Vec<String> {
    match load(bytes, &env()) {
        Ok(_) => vec![],
        Err(errs) => errs.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn error_paths_name_the_key_in_pretty_printed_configs_too() {
    let text = "{\n  \"issuer\": \"https://idp.example.com\",\n  \"idp_cluster\": \"idp\",\n  \"bearer\": {\n    \"issuers\": [\n      {\"issuer\": \"https://b\", \"audiences\": [\"a\", \"b,c\"]},\n      {\"issuer\": \"https://c\", \"audiences\": [\"x\"], \"jwks\": 1}\n    ]\n  }\n}";
    assert_eq!(errors_of_text(text.as_bytes()), vec!["bearer.issuers[1].jwks: unknown key"]);
    let text = r#"{"issuer": "https://i", "identity_headers": {"x-a\"}": "sub"}, "clock_skew": [1]}"#;
    assert_eq!(errors_of_text(text.as_bytes()), vec!["clock_skew: invalid type: sequence, expected a string"]);
    let text = r#"{"issuer": "https://i", "bypass": [{"prefix": "/a"}, {"prefix": "/b", "exact": 3}]}"#;
    assert_eq!(errors_of_text(text.as_bytes()), vec!["bypass[1].exact: invalid type: integer, expected a string"]);
}
