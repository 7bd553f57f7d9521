use super::*;
use crate::core::config::{load, IssuerConfig};
use crate::core::jwt::Alg;
use crate::core::provider::FetchKind;
use crate::core::seal::tests::Counter as Rng;
use crate::core::secret::ProcessEnv;
use crate::core::testkeys::{jwks, rsa_a, rsa_b, sign};
use serde_json::json;

const ISS: &str = "https://idp.example.com";
const NOW: u64 = 1_800_000_000;
const ORIGIN: Origin<'static> = Origin { scheme: "https", authority: "app.example.com" };

fn config() -> Config {
    let cfg = json!({"issuer": ISS, "idp_cluster": "idp", "client_id": "web", "client_secret": "s3cret",
        "identity_headers": {"x-user-id": "sub", "x-user-email": "email"},
        "session": {"keys": [base64::engine::general_purpose::STANDARD.encode([5u8; 32])]}});
    load(cfg.to_string().as_bytes(), &ProcessEnv).unwrap()
}

fn provider(iss_supported: bool) -> Provider {
    let mut p = Provider::new(IssuerConfig {
        issuer: ISS.into(),
        discovery_url: AbsoluteUrl::parse("https://idp.example.com/.well-known/openid-configuration").unwrap(),
        audiences: vec!["web".into()],
    });
    let clusters = config().clusters;
    let (k, _) = p.poll(0, &clusters).unwrap();
    let doc = json!({"issuer": ISS, "jwks_uri": "https://idp.example.com/jwks", "authorization_endpoint": "https://idp.example.com/auth",
        "token_endpoint": "https://idp.example.com/token", "userinfo_endpoint": "https://idp.example.com/me",
        "authorization_response_iss_parameter_supported": iss_supported});
    p.on_response(k, Some(200), doc.to_string().as_bytes(), 0, 600_000);
    let (k, _) = p.poll(0, &clusters).unwrap();
    assert_eq!(k, FetchKind::Jwks);
    let a = rsa_a();
    p.on_response(k, Some(200), jwks(&[(&a, "k1")]).as_bytes(), 0, 600_000);
    p
}

fn header<'a>(r: &'a LocalResponse, name: &str) -> Vec<&'a str> {
    r.headers.iter().filter(|(n, _)| *n == name).map(|(_, v)| v.as_str()).collect()
}

/// Starts a login and returns (authorization URL query, Cookie header the browser would send back).
fn started(cookie_header: Option<&str>, target: &str) -> (Vec<(String, String)>, String) {
    let c = config();
    let p = provider(true);
    let r =
        start(c.login.as_ref().unwrap(), p.metadata.as_ref().unwrap(), ORIGIN, target, cookie_header, NOW, &mut Rng(0))
            .unwrap();
    assert_eq!(r.status, 302);
    let loc = header(&r, "location")[0];
    let query = form::parse(loc.split_once('?').unwrap().1).unwrap();
    let set = header(&r, "set-cookie")[0];
    (query, set.split(';').next().unwrap().to_string())
}

#[test]
fn start_sends_pkce_state_nonce_and_seals_the_flow() {
    let (q, cookie) = started(None, "/some/page?x=1");
    let get = |k: &str| form::get(&q, k).unwrap().to_string();
    assert_eq!(get("response_type"), "code");
    assert_eq!(get("redirect_uri"), "https://app.example.com/oauth2/callback");
    assert_eq!(get("scope"), "openid email profile");
    assert_eq!(get("code_challenge_method"), "S256");
    let c = config();
    let login = c.login.as_ref().unwrap();
    let (name, value) = cookie.split_once('=').unwrap();
    assert!(name.starts_with("__Host-oidc_session_flow_"));
    let flow: Flow = serde_json::from_slice(&login.keys.open(name, value).unwrap()).unwrap();
    assert_eq!(flow.state, get("state"));
    assert_eq!(flow.nonce, get("nonce"));
    assert_eq!(flow.target, "/some/page?x=1");
    assert_eq!(get("code_challenge"), URL_SAFE_NO_PAD.encode(Sha256::digest(flow.verifier.as_bytes())));
    assert_ne!(flow.state, flow.nonce);
    // An unsafe original path is never stored as the return target.
    let (_, cookie2) = started(None, "//evil.example");
    let (n2, v2) = cookie2.split_once('=').unwrap();
    let flow2: Flow = serde_json::from_slice(&login.keys.open(n2, v2).unwrap()).unwrap();
    assert_eq!(flow2.target, "/");
}

fn callback_with(query: &str, cookie: Option<&str>, iss_supported: bool) -> CallbackOutcome {
    let c = config();
    let p = provider(iss_supported);
    let req = CallbackRequest { origin: ORIGIN, query, cookie_header: cookie, request_id: Some("rid-1"), now: NOW + 5 };
    callback(&c, c.login.as_ref().unwrap(), &p, &req)
}

fn page_status(o: CallbackOutcome) -> (u32, String) {
    match o {
        CallbackOutcome::Respond { response, reason } => (response.status, reason),
        CallbackOutcome::Exchange { .. } => (0, "exchange".into()),
    }
}

#[test]
fn callback_checks_state_error_and_iss_before_any_token_call() {
    let (q, cookie) = started(None, "/p");
    let state = form::get(&q, "state").unwrap();
    let iss = form::encode(ISS);
    let ok = format!("code=c1&state={state}&iss={iss}");
    match callback_with(&ok, Some(&cookie), true) {
        CallbackOutcome::Exchange { callout, flow, .. } => {
            assert_eq!(callout.method, "POST");
            assert_eq!(callout.target.path, "/token");
            let body = form::parse(callout.body.as_deref().unwrap()).unwrap();
            assert_eq!(form::get(&body, "code"), Some("c1"));
            assert_eq!(form::get(&body, "code_verifier"), Some(flow.verifier.as_str()));
            assert_eq!(form::get(&body, "redirect_uri"), Some("https://app.example.com/oauth2/callback"));
            let auth = callout.headers.iter().find(|(n, _)| *n == "authorization").unwrap();
            assert_eq!(auth.1, format!("Basic {}", STANDARD.encode("web:s3cret")));
        }
        other => panic!("{other:?}"),
    }
    let cases = [
        (format!("code=c1&state={}&iss={iss}", "x".repeat(43)), Some(cookie.as_str()), true, 400),
        (format!("code=c1&state={state}&iss={iss}"), None, true, 400),
        (format!("code=c1&iss={iss}"), Some(cookie.as_str()), true, 400),
        (format!("code=c1&state={state}&state={state}"), Some(cookie.as_str()), true, 400),
        (format!("code=c1&state={state}&iss=https%3A%2F%2Fevil.example"), Some(cookie.as_str()), true, 502),
        (format!("code=c1&state={state}"), Some(cookie.as_str()), true, 502),
        (format!("error=access_denied&state={state}&iss={iss}"), Some(cookie.as_str()), true, 403),
        (format!("state={state}&iss={iss}"), Some(cookie.as_str()), true, 502),
    ];
    for (query, cookie, supported, want) in cases {
        assert_eq!(page_status(callback_with(&query, cookie, supported)).0, want, "{query}");
    }
    // Without RFC 9207 support at the IdP, a missing iss is accepted.
    assert_eq!(page_status(callback_with(&format!("code=c1&state={state}"), Some(&cookie), false)).1, "exchange");
}

#[test]
fn an_expired_flow_is_refused() {
    let (q, cookie) = started(None, "/p");
    let c = config();
    let p = provider(false);
    let query = format!("code=c&state={}", form::get(&q, "state").unwrap());
    let req = CallbackRequest {
        origin: ORIGIN,
        query: &query,
        cookie_header: Some(&cookie),
        request_id: None,
        now: NOW + FLOW_TTL,
    };
    assert_eq!(page_status(callback(&c, c.login.as_ref().unwrap(), &p, &req)), (400, "login flow expired".into()));
}

fn flow() -> Flow {
    Flow { state: "s".repeat(43), nonce: "n".repeat(43), verifier: "v".repeat(43), target: "/p".into(), created: NOW }
}

fn id_token(overrides: Value, key_is_trusted: bool) -> Vec<u8> {
    let mut claims = json!({"iss": ISS, "sub": "alice", "aud": "web", "exp": NOW + 300, "iat": NOW, "nonce": "n".repeat(43), "email": "a@example.com"});
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    let key = if key_is_trusted { rsa_a() } else { rsa_b() };
    json!({"id_token": sign(&key, Alg::RS256, "k1", &claims), "access_token": "at", "token_type": "Bearer"})
        .to_string()
        .into_bytes()
}

fn token_result(body: &[u8], status: Option<u16>) -> Result<AfterToken, LoginError> {
    let c = config();
    on_token_response(&c, c.login.as_ref().unwrap(), &provider(true), &flow(), status, body, NOW)
}

#[test]
fn the_id_token_is_validated_fully() {
    match token_result(&id_token(json!({}), true), Some(200)).unwrap() {
        AfterToken::Done(p) => {
            assert_eq!(p.session.sub, "alice");
            assert_eq!(p.session.claims.get("email"), Some(&json!("a@example.com")));
            assert!(p.session.id_token.is_some());
            assert_eq!(p.session.exp, NOW + 8 * 3600);
        }
        other => panic!("{other:?}"),
    }
    let cases = [
        (id_token(json!({"nonce": "other"}), true), LoginError::NonceMismatch),
        (id_token(json!({"nonce": null}), true), LoginError::NonceMismatch),
        (id_token(json!({"aud": "someone-else"}), true), LoginError::IdToken(JwtError::WrongAudience)),
        (id_token(json!({"aud": ["web", "other"]}), true), LoginError::AzpMismatch),
        (id_token(json!({"aud": ["web", "other"], "azp": "other"}), true), LoginError::AzpMismatch),
        (id_token(json!({"azp": "other"}), true), LoginError::AzpMismatch),
        (id_token(json!({"iss": "https://evil.example"}), true), LoginError::IdToken(JwtError::UnknownIssuer)),
        (id_token(json!({"exp": NOW - 3600}), true), LoginError::IdToken(JwtError::Expired)),
        (id_token(json!({"sub": null}), true), LoginError::MissingSub),
        (id_token(json!({}), false), LoginError::IdToken(JwtError::BadSignature)),
        (b"{\"access_token\":\"x\"}".to_vec(), LoginError::BadTokenResponse),
        (b"<html>".to_vec(), LoginError::BadTokenResponse),
    ];
    for (body, want) in cases {
        assert_eq!(token_result(&body, Some(200)).unwrap_err(), want);
    }
    assert!(token_result(&id_token(json!({"aud": ["web", "other"], "azp": "web"}), true), Some(200)).is_ok());
    assert_eq!(
        token_result(b"{\"error\":\"invalid_grant\"}", Some(400)).unwrap_err(),
        LoginError::TokenEndpoint { status: Some(400), error: Some("invalid_grant".into()) }
    );
    assert_eq!(token_result(b"", None).unwrap_err().page().0, Page::IdpUnreachable);
}

#[test]
fn missing_claims_come_from_userinfo_whose_sub_must_match() {
    let c = config();
    let result = token_result(&id_token(json!({"email": null}), true), Some(200)).unwrap();
    let AfterToken::Userinfo { pending, callout } = result else { panic!("expected a userinfo call") };
    assert_eq!(callout.target.path, "/me");
    assert!(callout.headers.contains(&("authorization", "Bearer at".to_string())));
    let merged =
        on_userinfo_response(&c, pending.clone(), Some(200), br#"{"sub":"alice","email":"u@example.com"}"#).unwrap();
    assert_eq!(merged.session.claims.get("email"), Some(&json!("u@example.com")));
    assert_eq!(
        on_userinfo_response(&c, pending.clone(), Some(200), br#"{"sub":"mallory","email":"m@example.com"}"#)
            .unwrap_err(),
        LoginError::UserinfoSubMismatch
    );
    assert_eq!(
        on_userinfo_response(&c, pending, Some(401), b"").unwrap_err(),
        LoginError::Userinfo { status: Some(401) }
    );
}

#[test]
fn finish_sets_the_session_clears_the_flow_and_returns_home() {
    let c = config();
    let login = c.login.as_ref().unwrap();
    let AfterToken::Done(pending) = token_result(&id_token(json!({}), true), Some(200)).unwrap() else { panic!() };
    let r = finish(login, &pending, &flow(), "__Host-oidc_session_flow_abc", None, &mut Rng(0)).unwrap();
    assert_eq!(header(&r, "location"), vec!["/p"]);
    let cookies = header(&r, "set-cookie");
    assert!(cookies[0].starts_with("__Host-oidc_session="));
    assert!(cookies[1].starts_with("__Host-oidc_session_flow_abc=;"));
}

#[test]
fn logout_without_end_session_endpoint_goes_to_post_logout_redirect() {
    let c = config();
    let login = c.login.as_ref().unwrap();
    let r = crate::core::logout::logout(login, None, ORIGIN, Some("__Host-oidc_session_1=x; other=y"), NOW);
    assert_eq!(header(&r, "location"), vec!["/"]);
    let cleared = header(&r, "set-cookie");
    assert!(cleared.iter().any(|c| c.starts_with("__Host-oidc_session_1=;")));
    assert!(cleared.iter().any(|c| c.starts_with("__Host-oidc_session=;")));
    assert!(!cleared.iter().any(|c| c.starts_with("other")));
}

#[test]
fn logout_is_refused_to_other_sites_and_clears_only_exact_cookie_names() {
    use crate::core::logout::{allowed, own_cookie_names};
    assert!(allowed(None));
    assert!(allowed(Some("same-origin")));
    assert!(allowed(Some("none")));
    assert!(!allowed(Some("cross-site")));
    assert!(!allowed(Some("same-site")));
    let c = config();
    let login = c.login.as_ref().unwrap();
    let header = "__Host-oidc_session=a; __Host-oidc_session_0=b; __Host-oidc_session_x=c; \
        __Host-oidc_session_flow_ABCDEFGHijklmnop=d; __Host-oidc_session_flow_short=e; __Host-oidc_sessionx=f; app=g";
    assert_eq!(
        own_cookie_names(login, Some(header)),
        vec!["__Host-oidc_session", "__Host-oidc_session_0", "__Host-oidc_session_flow_ABCDEFGHijklmnop"]
    );
}

#[test]
fn a_fixed_redirect_uri_overrides_the_request_origin() {
    let cfg = json!({"issuer": ISS, "idp_cluster": "idp", "client_id": "web", "client_secret": "s",
        "redirect_uri": "https://app.example.com/auth/cb",
        "session": {"keys": [base64::engine::general_purpose::STANDARD.encode([5u8; 32])]}});
    let c = load(cfg.to_string().as_bytes(), &ProcessEnv).unwrap();
    let login = c.login.as_ref().unwrap();
    assert_eq!(login.callback_path, "/auth/cb");
    let spoofed = Origin { scheme: "http", authority: "evil.example" };
    let r = start(login, provider(true).metadata.as_ref().unwrap(), spoofed, "/", None, NOW, &mut Rng(0)).unwrap();
    let q = form::parse(header(&r, "location")[0].split_once('?').unwrap().1).unwrap();
    assert_eq!(form::get(&q, "redirect_uri"), Some("https://app.example.com/auth/cb"));
    let out = crate::core::logout::logout(login, None, spoofed, None, NOW);
    assert_eq!(header(&out, "location"), vec!["/"]);
    let bad = json!({"issuer": ISS, "idp_cluster": "idp", "client_id": "web", "client_secret": "s",
        "redirect_uri": "https://app.example.com/auth/cb", "callback_path": "/other",
        "session": {"keys": [base64::engine::general_purpose::STANDARD.encode([5u8; 32])]}});
    let errs: Vec<String> =
        load(bad.to_string().as_bytes(), &ProcessEnv).unwrap_err().iter().map(ToString::to_string).collect();
    assert_eq!(errs, vec!["callback_path: \"/other\" differs from the path of redirect_uri (\"/auth/cb\")"]);
}
