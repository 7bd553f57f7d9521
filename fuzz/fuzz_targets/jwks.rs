//! What the IdP answers on the back channel, each through its parser: a JWKS
//! (`token::KeySet::parse`), a discovery document (`idp::Metadata::parse`), a token
//! endpoint answer (`idp::token_endpoint::parse`), an introspection answer
//! (`idp::introspection::parse`), a userinfo answer (`login::id_token::on_userinfo_response`),
//! Microsoft Graph's `getMemberObjects` answer (`idp::graph::parse`), and claims to identity
//! headers (`IdentityConfig::identity`, `claim_value`), to an overage, a token kind and an
//! issuer (`identity::overage`, `token::kind`, `token::IssuerRule`).
//!
//! Input: one JSON body (any bytes), given to every parser; the seeds are real answers.
//! Properties:
//! - nothing panics;
//! - JWKS: every JWK is either a key or counted as skipped; a key with an `alg` fits
//!   it; a key picked for an algorithm fits it (and without `kid`, only when it is the
//!   only one that fits);
//! - discovery: accepted only for the configured issuer, every endpoint kept is an
//!   absolute http(s) URL without spaces, control characters or fragment;
//! - token endpoint: tokens only from a 200 that is a JSON object (or array), refused
//!   with a 200 only for an `error` without `access_token` (GitHub); `expires_in` gives the access
//!   token's expiry; an error code is at most 64 of `[A-Za-z0-9_-]`;
//! - introspection: an answer counts only when `active` is `true`, and then its `exp`,
//!   `nbf`, `iss`, `aud` (or, without it, `client_id`) and `token_type` allow it; `active` is not among the claims;
//! - userinfo: accepted only for the session's `sub`; it never changes a claim the ID
//!   token gave (the `email`/`email_verified` pair stays one document's);
//! - Graph: group ids only from a 200 whose `value` is an array, one id per element, each
//!   1 to 64 of `[A-Za-z0-9-]`;
//! - identity: header values never carry control characters nor exceed the limit, and
//!   with `require_email_verified`, an unverified `email` reaches no header;
//! - claims: an overage only without the groups claim; a kind accepted only for `typ`
//!   `Bearer` (or none) and `token_use` `access` (or none); an `iss` accepted by a
//!   multi-tenant rule only for a listed `tid`, filled into the template or a `{tenantid}` alias.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use oidc_gate::core::config::Config;
use oidc_gate::core::identity::{claim_value, overage, IdentityConfig, MAX_HEADER_VALUE};
use oidc_gate::core::idp::graph;
use oidc_gate::core::idp::introspection::{self, Expect};
use oidc_gate::core::idp::token_endpoint::{self, TokenEndpointError};
use oidc_gate::core::idp::{Metadata, Provider};
use oidc_gate::core::login::callback::LoginContext;
use oidc_gate::core::login::id_token::on_userinfo_response;
use oidc_gate::core::session::Session;
use oidc_gate::core::token::{kind, Alg, IssuerRule, KeySet};
use oidc_gate_fuzz::scene::{config, feed};
use oidc_gate_fuzz::{discovery, jwks, ISS, NOW_MS, NOW_S};
use serde_json::{json, Map, Value};

struct Fixture {
    config: Config,
    provider: Provider,
    strict: IdentityConfig,
}

thread_local! {
    static FIXTURE: Fixture = {
        let config = config();
        let mut provider = Provider::new(config.issuers[0].clone());
        feed(&mut provider, &config, &discovery(), &jwks(), NOW_MS);
        let strict = IdentityConfig { require_email_verified: true, ..config.identity.clone() };
        Fixture { config, provider, strict }
    };
}

const SKEW: Duration = Duration::from_secs(60);

fuzz_target!(|data: &[u8]| {
    FIXTURE.with(|f| run(f, data));
});

fn run(f: &Fixture, data: &[u8]) {
    // The reference reading: lossy, since serde skips the bytes of ignored fields unchecked.
    let value: Option<Value> = serde_json::from_str(&String::from_utf8_lossy(data)).ok();
    let object = value.as_ref().and_then(Value::as_object);
    jwks_doc(data, object);
    discovery_doc(data, object);
    token_answer(data, value.as_ref(), object);
    introspection_answer(data, object);
    userinfo_answer(f, data, object);
    graph_answer(data, object);
    if let Some(claims) = object {
        identity(f, claims);
        claim_rules(claims);
    }
}

fn graph_answer(data: &[u8], object: Option<&Map<String, Value>>) {
    for status in [200, 403] {
        let Ok(groups) = graph::parse(Some(status), data) else { continue };
        assert_eq!(status, 200, "groups from a {status}");
        let listed =
            object.and_then(|o| o.get("value")).and_then(Value::as_array).expect("groups without a value array");
        assert_eq!(groups.len(), listed.len(), "an element dropped or added");
        for g in &groups {
            let plain = g.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            assert!(!g.is_empty() && g.len() <= 64 && plain, "group id {g:?}");
        }
    }
}

const ENTRA: &str = "https://login.microsoftonline.com/organizations/v2.0";

fn claim_rules(claims: &Map<String, Value>) {
    if overage::overage(claims, "groups") {
        assert!(!claims.contains_key("groups"), "an overage beside the groups");
    }
    if kind::access_token(claims).is_ok() {
        let typ = claims.get("typ");
        assert!(typ.is_none_or(|t| t.as_str().is_some_and(|t| t.eq_ignore_ascii_case("bearer"))), "typ {typ:?}");
        let token_use = claims.get("token_use");
        assert!(token_use.is_none_or(|t| t == "access"), "token_use {token_use:?}");
    }
    let rule = IssuerRule::new(ENTRA, vec!["https://sts.windows.net/{tenantid}/".into()], vec!["t1".into()]);
    if let Ok(iss) = rule.checked(claims) {
        assert_eq!(claims.get("tid").and_then(Value::as_str), Some("t1"), "iss {iss:?} of an unlisted tenant");
        let allowed = ["https://login.microsoftonline.com/t1/v2.0", "https://sts.windows.net/t1/"];
        assert!(allowed.contains(&iss), "iss {iss:?} accepted");
    }
}

fn jwks_doc(data: &[u8], object: Option<&Map<String, Value>>) {
    let Ok(set) = KeySet::parse(data) else { return };
    let listed = object.and_then(|o| o.get("keys")).and_then(Value::as_array).map_or(0, Vec::len);
    assert_eq!(set.keys.len() + set.skipped, listed, "a JWK neither kept nor skipped");
    assert!(!set.keys.is_empty(), "a key set without keys");
    for key in &set.keys {
        if let Some(alg) = key.alg {
            assert!(key.fits(alg), "a key kept for an alg it cannot verify");
        }
    }
    for alg in Alg::ALL {
        if let Some(k) = set.select(None, alg) {
            assert!(k.fits(alg));
            assert_eq!(set.keys.iter().filter(|k| k.fits(alg)).count(), 1, "kid-less pick among several keys");
        }
        for kid in set.keys.iter().filter_map(|k| k.kid.as_deref()) {
            if let Some(k) = set.select(Some(kid), alg) {
                assert!(k.fits(alg) && k.kid.as_deref() == Some(kid), "picked another key than the kid named");
            }
        }
    }
}

fn plain_url(u: &str) -> bool {
    let lower = u.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && !u.bytes().any(|b| b <= b' ' || b == 0x7f)
        && !u.contains('#')
}

fn discovery_doc(data: &[u8], object: Option<&Map<String, Value>>) {
    let Ok(m) = Metadata::parse(data, ISS) else { return };
    let issuer = object.and_then(|o| o.get("issuer")).and_then(Value::as_str);
    assert_eq!(issuer, Some(ISS), "discovery accepted for another issuer");
    assert!(plain_url(&m.jwks_uri.as_string()), "jwks_uri {:?}", m.jwks_uri);
    for u in [
        &m.authorization_endpoint,
        &m.token_endpoint,
        &m.userinfo_endpoint,
        &m.end_session_endpoint,
        &m.introspection_endpoint,
    ]
    .into_iter()
    .flatten()
    {
        assert!(plain_url(u), "endpoint kept: {u:?}");
    }
}

fn token_answer(data: &[u8], value: Option<&Value>, object: Option<&Map<String, Value>>) {
    for status in [200, 400, 401, 503] {
        match token_endpoint::parse(Some(status), data) {
            Ok(t) => {
                assert_eq!(status, 200, "tokens from a {status}");
                // serde also reads a struct from a JSON array, by position: an IdP's oddity, tolerated.
                let array = value.is_some_and(Value::is_array);
                assert!(object.is_some() || array, "a token response that is no JSON document");
                let exp = t.access_exp(NOW_S);
                if let Some(secs) = t.expires_in {
                    assert_eq!(exp, Some(NOW_S.saturating_add(secs)));
                }
            }
            Err(TokenEndpointError::NotJson) => assert_eq!(status, 200, "a {status} read as no JSON"),
            Err(TokenEndpointError::Refused { status: s, error }) => {
                assert_eq!(s, status);
                if status == 200 {
                    // GitHub's errors come as a 200 with `error` and no `access_token`.
                    let o = object.expect("a 200 refusal that is no JSON object");
                    assert!(o.contains_key("error") && !o.contains_key("access_token"), "a 200 refused");
                }
                if let Some(code) = error {
                    let safe = code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    assert!(safe && code.len() <= 64, "error code {code:?}");
                }
            }
            Err(e) => panic!("a {status} read as {e:?}"),
        }
    }
}

fn introspection_answer(data: &[u8], object: Option<&Map<String, Value>>) {
    let (audiences, client_ids) = (["api".to_string()], ["cli".to_string()]);
    for now_s in [NOW_S, 0, u64::MAX] {
        let expect = Expect { issuer: ISS, audiences: &audiences, client_ids: &client_ids, now_s, skew: SKEW };
        let Ok((claims, exp)) = introspection::parse(Some(200), data, &expect) else { continue };
        let answer = object.expect("an introspection answer that is no JSON object");
        assert_eq!(answer.get("active"), Some(&json!(true)), "counted without active: true");
        assert!(!claims.contains_key("active"));
        let date = |name: &str| answer.get(name).map(|v| v.as_u64().expect("a date that is no whole number"));
        assert_eq!(exp, date("exp"));
        if let Some(e) = date("exp") {
            assert!(now_s <= e.saturating_add(SKEW.as_secs()), "expired answer counted");
        }
        if let Some(t) = date("nbf") {
            assert!(t <= now_s.saturating_add(SKEW.as_secs()), "answer counted before nbf");
        }
        if let Some(iss) = answer.get("iss") {
            assert_eq!(iss.as_str(), Some(ISS), "answer of another issuer counted");
        }
        match answer.get("aud") {
            None => assert_eq!(answer.get("client_id").and_then(Value::as_str), Some("cli"), "no aud, other client"),
            Some(Value::String(a)) => assert!(audiences.contains(a)),
            Some(Value::Array(list)) => assert!(list.iter().any(|a| a.as_str() == Some("api"))),
            Some(other) => panic!("aud {other:?} counted"),
        }
        if let Some(t) = answer.get("token_type").and_then(Value::as_str) {
            let t = t.to_ascii_lowercase();
            assert!(t == "bearer" || t == "access_token", "token_type {t:?} counted");
        }
    }
}

fn userinfo_answer(f: &Fixture, data: &[u8], object: Option<&Map<String, Value>>) {
    let Some(login) = f.config.login.as_ref() else { return };
    let ctx = LoginContext { config: &f.config, login, provider: &f.provider };
    let id_token_claims = [
        json!({"sub": "alice", "groups": ["a"]}),
        json!({"sub": "alice", "email": "alice@example.com", "email_verified": false}),
    ];
    for claims in id_token_claims {
        let claims: Map<String, Value> = claims.as_object().cloned().unwrap_or_default();
        let mut session = Session::new("alice", NOW_S, &login.session, claims.clone());
        if on_userinfo_response(&ctx, &mut session, Some(200), data).is_err() {
            continue;
        }
        let info = object.expect("userinfo accepted that is no JSON object");
        assert_eq!(info.get("sub").and_then(Value::as_str), Some("alice"), "userinfo of another sub accepted");
        for (k, v) in &claims {
            if k == "email_verified" && !claims.contains_key("email") {
                continue;
            }
            assert_eq!(session.claims.get(k), Some(v), "userinfo changed the ID token's {k:?}");
        }
        if claims.contains_key("email") {
            assert_eq!(session.claims.get("email_verified"), claims.get("email_verified"));
        } else if session.claims.contains_key("email_verified") {
            assert!(info.contains_key("email"), "email_verified kept without its email");
            assert_eq!(session.claims.get("email_verified"), info.get("email_verified"));
        }
    }
}

fn verified(claims: &Map<String, Value>) -> bool {
    match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn identity(f: &Fixture, claims: &Map<String, Value>) {
    for mapping in &f.config.identity.headers {
        if let Some(v) = claim_value(claims, &mapping.claim) {
            assert!(header_safe(&v), "claim_value {:?} gave {v:?}", mapping.claim);
        }
    }
    for config in [&f.config.identity, &f.strict] {
        let identity = config.identity(None, claims);
        for (name, value) in &identity.headers {
            assert!(header_safe(value), "header {name} = {value:?}");
        }
        if config.require_email_verified && !verified(claims) {
            assert!(!identity.claims.contains_key("email"), "an unverified email kept");
            let email = ["x-user-email", "kubeflow-userid"];
            assert!(!identity.headers.iter().any(|(n, _)| email.contains(&n.as_str())), "an unverified email sent");
        }
    }
}

fn header_safe(v: &str) -> bool {
    v.len() <= MAX_HEADER_VALUE + 64 && !v.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f)
}
