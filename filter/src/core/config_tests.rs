use super::*;
use serde_json::{json, Value};
use std::collections::HashMap;

struct MapEnv(HashMap<&'static str, &'static str>);
impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.to_string())
    }
}

fn env() -> MapEnv {
    MapEnv(HashMap::from([("OIDC_CLIENT_SECRET", "s3cret")]))
}

fn base() -> Value {
    json!({
        "issuer": "https://idp.example.com",
        "idp_cluster": "idp",
        "client_id": "web",
    })
}

/// Merges `overrides` into the base config; a `null` value removes the key.
fn with(overrides: Value) -> Value {
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

fn errors_of(cfg: Value) -> Vec<String> {
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
    assert_eq!(c.client_secret.as_ref().unwrap().expose(), "s3cret");
    assert_eq!(c.identity_headers.len(), 3);
    assert_eq!(c.bypass.len(), 3);
    assert_eq!(c.clock_skew, 60);
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
    assert_eq!(c.issuers[0].audiences, vec!["web"], "audience defaults to client_id");
    assert_eq!(c.clock_skew, 60);
    assert_eq!(c.cache_size, DEFAULT_CACHE_SIZE);
    assert_eq!(c.metadata_refresh, Duration::from_secs(600));
    assert_eq!(c.jwks_refetch_min_interval, Duration::from_secs(30));
    assert_eq!(c.startup_wait, Duration::from_secs(5));
    assert_eq!(c.realm, "oidc-gate");
    assert_eq!(c.algorithms, AlgSet::all());
}

#[test]
fn errors_name_their_field_exactly() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (with(json!({"issuer": null})), vec!["issuer: required: the OpenID provider's issuer URL"]),
        (with(json!({"isuer": "x"})), vec!["isuer: unknown key"]),
        (with(json!({"bearer": {"audience": []}})), vec!["bearer.audience: unknown key"]),
        (
            with(json!({"bearer": {"issuers": [{"issuer": "https://a", "audiences": ["x"], "jwks": "y"}]}})),
            vec!["bearer.issuers[0].jwks: unknown key"],
        ),
        (with(json!({"issuer": "idp.example.com"})), vec!["issuer: \"idp.example.com\" must be an absolute URL like https://host/path"]),
        (with(json!({"idp_cluster": null})), vec!["idp_cluster: required: the Envoy cluster that reaches the OpenID provider"]),
        (with(json!({"client_id": null})), vec!["bearer.audiences: required when client_id is not set: a token's audience must be checked"]),
        (with(json!({"client_secret": {"env": "NOPE"}})), vec!["client_secret: environment variable \"NOPE\" is not set in the VM"]),
        (with(json!({"client_secret": 5})), vec!["client_secret: a secret is a string or {\"env\": \"NAME\"}"]),
        (with(json!({"clock_skew": "60"})), vec!["clock_skew: invalid duration \"60\": use a number with a unit, e.g. \"30s\", \"10m\", \"8h\""]),
        (with(json!({"clock_skew": 60})), vec!["clock_skew: invalid type: integer `60`, expected a string"]),
        (with(json!({"bypass": [{"regex": "(["}]})), vec!["bypass[0]: invalid regex \"([\": found unclosed character class"]),
        (with(json!({"identity_headers": {"X-User": "sub"}})), vec!["identity_headers.X-User: \"X-User\" is not a valid header name (use lower-case letters, digits and '-')"]),
        (with(json!({"bearer": {"algorithms": ["HS256"]}})), vec!["bearer.algorithms[0]: \"HS256\" is not allowed; choose from RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA"]),
        (with(json!({"bearer": {"algorithms": ["none"]}})), vec!["bearer.algorithms[0]: \"none\" is not allowed; choose from RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA"]),
        (with(json!({"bearer": {"issuers": [{"issuer": "https://b"}]}})), vec!["bearer.issuers[0].audiences: required: at least one non-empty audience"]),
        (
            with(json!({"bearer": {"issuers": [{"issuer": "https://idp.example.com", "audiences": ["a"]}]}})),
            vec!["bearer.issuers[0].issuer: \"https://idp.example.com\" is listed twice"],
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
            "issuer: \"ftp://x\" scheme must be http or https",
            "idp_cluster: required: the Envoy cluster that reaches the OpenID provider",
            "bypass[0]: path \"nope\" must start with \"/\"",
            "clock_skew: invalid duration \"1y\": use a number with a unit, e.g. \"30s\", \"10m\", \"8h\"",
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

#[test]
fn not_json_is_an_error_not_a_panic() {
    assert_eq!(errors_of_text(b"{"), vec!["(config): EOF while parsing an object"]);
    assert_eq!(errors_of_text(b"[]"), vec!["(config): must be a JSON object"]);
    assert_eq!(errors_of_text(&[0xff, 0xfe]), vec!["(config): is not UTF-8"]);
    assert_eq!(
        errors_of_text(b""),
        vec![
            "issuer: required: the OpenID provider's issuer URL",
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
