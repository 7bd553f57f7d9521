//! Writes the seed corpora, `fuzz/corpus/<target>/<name>`, from real values: tokens the
//! test keys sign, sessions sealed under the fixture's keys, a login started by the gate
//! itself, and the IdP's documents and answers. Each run rewrites every corpus whole
//! (keeping the `regression*` crash inputs), with the same bytes (everything is deterministic).
//!
//!     cd fuzz && cargo +nightly-2026-10-30 run --example make_corpus

use std::fs;
use std::path::Path;

use oidc_gate_fuzz::scene::{jwt_seeds, Scene};
use oidc_gate_fuzz::{config_json, discovery, jwks, session_key, API_TOKEN, ISS, NOW_S};
use serde_json::json;

fn write(target: &str, seeds: &[(String, String)]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    // Rewritten whole, but for the crash inputs kept as regression seeds (`regression*`).
    for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
        if !entry.file_name().to_string_lossy().starts_with("regression") {
            let _ = fs::remove_file(entry.path());
        }
    }
    fs::create_dir_all(&dir).expect("the corpus folder");
    for (name, body) in seeds {
        fs::write(dir.join(name), body).expect("a seed file");
    }
    println!("corpus/{target}: {} seeds", seeds.len());
}

fn named<const N: usize>(items: [(&str, String); N]) -> Vec<(String, String)> {
    items.into_iter().map(|(n, b)| (n.to_string(), b)).collect()
}

fn main() {
    let s = Scene::new();
    let [plain, refreshable, chunked, old_key] = &s.session_cookies[..] else { panic!("four sessions") };

    let mut reversed: Vec<&str> = chunked.split("; ").collect();
    reversed.reverse();
    write(
        "cookie_header",
        &named([
            ("session", plain.clone()),
            ("session_among_others", format!("theme=dark; {plain}; _ga=GA1.2.3.4")),
            ("session_refreshable", refreshable.clone()),
            ("session_chunked", chunked.clone()),
            ("session_chunks_reversed", reversed.join("; ")),
            ("session_old_key", old_key.clone()),
            ("session_quoted", plain.replacen('=', "=\"", 1) + "\""),
            ("session_and_flow", format!("{}; {plain}", s.flow_cookie)),
            ("session_twice", format!("{old_key}; {plain}")),
            (
                "lookalikes",
                "__Host-oidc_sessionx=1; __Host-oidc_session_x=2; __Host-oidc_session_flow_short=3; a".into(),
            ),
        ]),
    );

    let jwt: Vec<(String, String)> =
        jwt_seeds().into_iter().enumerate().map(|(i, t)| (format!("token_{i:02}"), t)).collect();
    write("jwt", &jwt);

    write(
        "jwks",
        &named([
            ("jwks", jwks()),
            ("jwks_rotated", s.rotated_jwks.clone()),
            (
                "jwks_odd",
                json!({"keys": [
                {"kty": "RSA", "kid": "p", "n": "AQAB", "e": "AQAB", "d": "AQAB"},
                {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"},
                {"kty": "oct", "k": "c2VjcmV0"},
                {"kty": "OKP", "crv": "Ed25519", "alg": "RS256", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})
                .to_string(),
            ),
            ("discovery", discovery()),
            (
                "discovery_iss_param",
                json!({"issuer": ISS, "jwks_uri": "https://idp.example.com/jwks",
                "authorization_response_iss_parameter_supported": true,
                "token_endpoint": "https://idp.example.com/token#frag", "userinfo_endpoint": "javascript:x"})
                .to_string(),
            ),
            ("token_response", s.token_response.clone()),
            ("token_error", json!({"error": "invalid_grant", "error_description": "grant revoked"}).to_string()),
            (
                "introspection_active",
                json!({"active": true, "sub": "svc", "scope": "api", "client_id": "cli",
                "exp": NOW_S + 600, "iss": ISS, "aud": ["other", "api"], "token_type": "Bearer"})
                .to_string(),
            ),
            ("introspection_inactive", json!({"active": false}).to_string()),
            (
                "introspection_no_aud",
                json!({"active": true, "sub": "svc", "client_id": "cli", "token_type": "access_token"}).to_string(),
            ),
            ("userinfo", s.userinfo.clone()),
            (
                "graph_member_objects",
                json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
                "value": ["fee2c45b-915a-4a64-b130-f4eb9e75525e", "4fe90ae7-065a-478b-9400-e0a0e1cbd540"]})
                .to_string(),
            ),
            (
                "claims_overage",
                json!({"_claim_names": {"groups": "src1"}, "sub": "olga", "tid": "t1",
                "iss": "https://login.microsoftonline.com/t1/v2.0",
                "_claim_sources": {"src1": {"endpoint": "https://graph.windows.net/t1/users/u/getMemberObjects"}}})
                .to_string(),
            ),
            (
                "claims_namespaced",
                json!({"https://example.com/roles": ["admin"], "https://example": {"com/roles": ["x"]},
                "sub": "ann", "typ": "Bearer", "token_use": "access", "tid": "t2",
                "iss": "https://sts.windows.net/t2/"})
                .to_string(),
            ),
            (
                "claims_nested",
                json!({"sub": "bob", "email": "bob@example.com", "email_verified": "TRUE",
                "groups": ["a", "b"], "realm_access": {"roles": ["admin", 7, true]}})
                .to_string(),
            ),
        ]),
    );

    let location_query = format!(
        "response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Foauth2%2Fcallback\
         &scope=openid&state={}&nonce={}&code_challenge=abc&code_challenge_method=S256",
        s.state, s.nonce
    );
    write(
        "form_query",
        &named([
            ("callback_query", format!("code=c-1&state={}&iss=https%3A%2F%2Fidp.example.com", s.state)),
            ("authorize_query", location_query),
            ("token_form", "grant_type=refresh_token&refresh_token=rt-1&client_id=web+app".into()),
            ("local_target", "/some/page?x=1&y=%2F#top".into()),
            ("allowed_target", "https://app.example.com:443/x?y=1".into()),
            ("evil_target", "/\\evil.example".into()),
            ("scheme_relative", "//evil.example/x".into()),
            ("bypass_path", "/static/app.js?v=1".into()),
            ("bypass_trick", "/healthz/..%2Fadmin;x=1".into()),
            ("css_path", "/admin/%2e%2e/x.css".into()),
            ("bearer", "Bearer abc.def.ghi".into()),
        ]),
    );

    write(
        "config",
        &named([
            ("fixture", config_json().to_string()),
            (
                "bearer_only",
                json!({"issuer": ISS, "idp_cluster": "idp", "bearer": {"audiences": ["api"],
                "issuers": [{"issuer": "https://other.example.com", "audiences": ["x"],
                    "identity_headers": {"x-sub": "sub"}}], "algorithms": ["RS256", "ES256"], "cache_size": 100}})
                .to_string(),
            ),
            (
                "env_secrets",
                json!({"issuer": ISS, "idp_cluster": "idp", "client_id": "web",
                "client_secret": {"env": "CS"}, "client_auth": "client_secret_post",
                "session": {"keys": [{"env": "KEY"}, session_key(1)], "cookie_name": "sess", "lifetime": "8h",
                    "idle_timeout": "30m", "keep_id_token": true},
                "scopes": ["openid", "email"], "callback_path": "/cb", "logout_path": "/bye",
                "post_logout_redirect": "/", "redirect_uri": "https://app.example.com/cb",
                "forward_id_token": {"header": "x-id-token"}, "clock_skew": "30s", "idp_timeout": "2s",
                "metadata_refresh": "10m", "startup_wait": "5s", "realm": "app",
                "resource_metadata": {"resource": "https://api.example.com", "scopes_supported": ["api"]}})
                .to_string(),
            ),
            (
                "authorization",
                json!({"issuer": ISS, "idp_cluster": "idp", "bearer": {"audiences": ["api"]},
                "idp_clusters": {"login.example.com": "login"},
                "authorization": {"allowed_email_domains": ["example.com"], "required_groups": {"any": ["a"]},
                    "claims": [{"claim": "hd", "equals": "example.com"}, {"claim": "tier", "matches": "^gold$"}],
                    "rules": [{"path": {"regex": "^/admin"}, "methods": ["POST"], "groups_all": ["x", "y"],
                        "scopes_any": ["w"], "allow": "authenticated"}]},
                "require_email_verified": true})
                .to_string(),
            ),
            (
                // The fuzzer put its own marker into a plain field; the target took it for a
                // leaked secret (CI, 2026-11-25). A marker the input holds is no secret.
                "regression_marker_in_realm_is_not_a_secret",
                json!({"issuer": ISS, "idp_cluster": "idp", "realm": "MARKERenvSecret-a1b2",
                "bearer": {"audiences": ["api"]}})
                .to_string(),
            ),
            (
                "wrong_types",
                json!({"issuer": 5, "session": {"keys": "not-a-list"}, "client_secret": {"env": 1},
                "bypass": [{"prefix": "nope", "regex": "("}], "clock_skew": "1 fortnight"})
                .to_string(),
            ),
        ]),
    );

    let page = |extra: &str| {
        format!(":path /x?y=1\n:method GET\n:authority app.example.com\n:scheme https\naccept text/html\n{extra}")
    };
    let api = |extra: &str| {
        format!(":path /api/orders\n:method GET\n:authority app.example.com\n:scheme https\naccept application/json\n{extra}")
    };
    let callback = format!(
        ":path /oauth2/callback?code=c-1&state={}\n:method GET\n:authority app.example.com\n:scheme https\n\
         accept text/html\ncookie {}\n",
        s.state, s.flow_cookie
    );
    let introspection =
        json!({"active": true, "sub": "dev", "scope": "api", "exp": NOW_S + 600, "iss": ISS, "aud": "api"});
    write(
        "gate",
        &named([
            ("bearer", api(&format!("authorization Bearer {}", s.token))),
            ("bearer_flyte", api(&format!("flyte-authorization bearer {}", s.token))),
            ("api_token_flower", api(&format!("flwr-oidc-access-token {API_TOKEN}"))),
            ("bearer_expired", api(&format!("authorization Bearer {}\n@now 7200", s.token))),
            (
                "bearer_rotated_kid",
                api(&format!("authorization Bearer {}\n@now 60\n@answer 200 {}", s.rotated_token, s.rotated_jwks)),
            ),
            ("bearer_admin", api(&format!("authorization Bearer {}", s.token)).replace("/api/orders", "/admin/users")),
            ("opaque_active", api(&format!("authorization Bearer opaque-token-0123\n@answer 200 {introspection}"))),
            ("opaque_inactive", api("authorization Bearer opaque-token-0123\n@answer 200 {\"active\":false}")),
            ("opaque_idp_down", api("authorization Bearer opaque-token-0123\n@answer -")),
            ("session", page(&format!("cookie {plain}"))),
            ("session_chunked", page(&format!("cookie theme=dark; {chunked}"))),
            ("session_old_key", page(&format!("cookie {old_key}\nsec-fetch-mode navigate"))),
            ("session_expired", page(&format!("cookie {plain}\n@now 30000"))),
            (
                "session_refresh",
                page(&format!(
                    "cookie {refreshable}\n@now 700\n@answer 200 {}",
                    json!({"access_token": "at-2", "expires_in": 600, "refresh_token": "rt-2"})
                )),
            ),
            (
                "session_refresh_refused",
                page(&format!("cookie {refreshable}\n@now 700\n@answer 400 {{\"error\":\"invalid_grant\"}}")),
            ),
            ("session_api_xhr", api(&format!("cookie {plain}\nsec-fetch-mode cors"))),
            ("login_start", page("")),
            ("login_start_xhr", api("sec-fetch-mode cors\nx-requested-with XMLHttpRequest")),
            ("login_start_grpc", api("content-type application/grpc")),
            ("callback", format!("{callback}@answer 200 {}\n@answer 200 {}", s.token_response, s.userinfo)),
            ("callback_refused", format!("{callback}@answer 400 {{\"error\":\"invalid_grant\"}}")),
            ("callback_error", callback.replace("code=c-1", "error=access_denied&error_description=no")),
            (
                "logout",
                page(&format!("cookie {plain}\nsec-fetch-site same-origin")).replace("/x?y=1", "/oauth2/logout"),
            ),
            ("bypass", page("").replace("/x?y=1", "/static/app.js")),
            ("bypass_trick", page("").replace("/x?y=1", "/static/%2e%2e/admin")),
            ("healthz", "@nowait\n:path /healthz\n:method GET".into()),
            (
                "backchannel_logout",
                ":path /oauth2/backchannel-logout\n:method POST\ncontent-type application/x-www-form-urlencoded".into(),
            ),
            (
                "cors_preflight",
                api("origin https://spa.example\naccess-control-request-method POST").replace(":method GET", ":method OPTIONS"),
            ),
            (
                "cors_preflight_with_cookie",
                api(&format!("origin https://spa.example\naccess-control-request-method POST\ncookie {plain}"))
                    .replace(":method GET", ":method OPTIONS"),
            ),
        ]),
    );

    let form = |token: &str| format!("logout_token={token}");
    let mut logout: Vec<(String, String)> =
        s.logout_tokens.iter().enumerate().map(|(i, t)| (format!("token_{i:02}"), form(t))).collect();
    let valid = &s.logout_tokens[0];
    logout.extend(named([
        ("twice", format!("{}&{}", form(valid), form(valid))),
        ("other_fields", format!("state=x&{}&z=%41", form(valid))),
        ("bad_escape", "logout_token=%zz".into()),
        ("empty", String::new()),
        ("bad_signature", form(&format!("{}AAAA", &valid[..valid.len() - 4]))),
    ]));
    write("logout_token", &logout);
}
