//! A gate as a worker has it once the IdP answered: the fixture config, discovery and
//! JWKS fed through `Provider::poll`/`on_response`, and the real values it accepts: a
//! bearer JWT, sealed sessions (plain, refreshable, chunked, sealed by the older key), a
//! started login (flow cookie, `state`, `nonce`), the ID token and token response that
//! complete it, and the userinfo answer its missing `email` asks for.

use std::rc::Rc;

use serde_json::{json, Map, Value};

use oidc_gate::core::config::{load, Config, SessionConfig};
use oidc_gate::core::gate::{Decision, Gate, Io, LogLine};
use oidc_gate::core::idp::{FetchKind, Provider};
use oidc_gate::core::session::{self, Keys, Session};
use oidc_gate::core::shared::LocalStore;
use oidc_gate::core::token::Alg;
use oidc_gate::core::web::form;

use crate::keys::{rsa_a, sign};
use crate::{config_json, discovery, jwks, FixedRng, MapEnv, MapHeaders, ISS, NOW_MS, NOW_S, REFRESH};

pub struct Scene {
    pub config: Rc<Config>,
    pub discovery: String,
    pub jwks: String,
    /// An RS256 access token of `ISS` for audience `api`, valid for an hour from `NOW_S`.
    pub token: String,
    /// The same, signed by the same key under the `kid` `rotated`, which the fixture JWKS
    /// lacks (a key rotation: the gate re-fetches the JWKS), and the JWKS that has it.
    pub rotated_token: String,
    pub rotated_jwks: String,
    /// Every session sealed here, with its sealed value (chunks joined).
    pub sessions: Vec<(Session, String)>,
    /// `Cookie` headers carrying one session each, in the order of `sessions`.
    pub session_cookies: Vec<String>,
    /// A login started at `NOW_S` for `/x`: its flow cookie (`name=value`), state and nonce.
    pub flow_cookie: String,
    pub state: String,
    pub nonce: String,
    /// The ID token that completes that login, and the token response carrying it.
    pub id_token: String,
    pub token_response: String,
    /// The userinfo answer for the login's `sub`.
    pub userinfo: String,
    /// Logout tokens the fixture key signs (`typ` `logout+jwt`, `iat` `NOW_S`): the first
    /// ones valid (by `sid` and `sub`, by `sub`, by `sid`), then ones the gate refuses.
    pub logout_tokens: Vec<String>,
}

/// The logout tokens of the scene (see [`Scene::logout_tokens`]).
pub fn logout_tokens() -> Vec<String> {
    let event = json!({"http://schemas.openid.net/event/backchannel-logout": {}});
    let base = json!({"iss": ISS, "aud": "web", "iat": NOW_S, "exp": NOW_S + 120, "jti": "j-1", "sub": "alice",
        "sid": "s1", "events": event});
    let header = json!({"alg": "RS256", "kid": "rsa", "typ": "logout+jwt"});
    let with = |changes: Value| {
        let mut c = base.clone();
        for (k, v) in changes.as_object().into_iter().flatten() {
            match v {
                Value::Null => c.as_object_mut().map(|o| o.remove(k)),
                v => c.as_object_mut().map(|o| o.insert(k.clone(), v.clone())),
            };
        }
        crate::keys::sign_with_header(&rsa_a(), &header, &c)
    };
    vec![
        with(json!({})),
        with(json!({"jti": "j-2", "sid": null})),
        with(json!({"jti": "j-3", "sub": null})),
        with(json!({"jti": "j-4", "nonce": "n"})),
        with(json!({"jti": "j-5", "events": null})),
        with(json!({"jti": "j-6", "aud": "other"})),
        with(json!({"jti": "j-7", "iat": NOW_S - 3600})),
        with(json!({"jti": "j-8", "sid": null, "sub": null})),
        with(json!({"jti": null})),
        // A key the JWKS lacks: refused, and never a reason to fetch the keys again.
        crate::keys::sign_with_header(&rsa_a(), &json!({"alg": "RS256", "kid": "rotated", "typ": "logout+jwt"}), &base),
    ]
}

/// The fixture config, loaded.
pub fn config() -> Config {
    load(config_json().to_string().as_bytes(), &MapEnv::default()).expect("the fixture config loads")
}

/// The login section's session settings of a config.
pub fn session_config(config: &Config) -> &SessionConfig {
    &config.login.as_ref().expect("the fixture config has login").session
}

/// Runs a provider's first discovery and JWKS fetches with these answers.
pub fn feed(provider: &mut Provider, config: &Config, discovery: &str, jwks: &str, now_ms: u64) {
    for (want, body) in [(FetchKind::Discovery, discovery), (FetchKind::Jwks, jwks)] {
        let (kind, _) = provider.poll(now_ms, &config.clusters).expect("a fetch is due");
        assert_eq!(kind, want);
        provider.on_response(kind, Some(200), body.as_bytes(), now_ms, REFRESH);
    }
}

/// The `Cookie` header a browser sends back for these `Set-Cookie` values.
pub fn cookie_header(set_cookies: &[String]) -> String {
    let pairs = set_cookies.iter().filter(|c| !c.contains("Max-Age=0")).filter_map(|c| c.split(';').next());
    pairs.collect::<Vec<_>>().join("; ")
}

/// Runs `f` with an `Io` over this random stream and store; counters and logs dropped.
pub fn with_io<T>(rng: &mut FixedRng, store: &mut LocalStore, f: impl FnOnce(&mut Io<'_>) -> T) -> T {
    let mut count = |_| {};
    let mut log = |_: LogLine| {};
    let mut io = Io { rng, shared: store, count: &mut count, log: &mut log };
    f(&mut io)
}

fn alice(claims: Value) -> Session {
    let mut claims: Map<String, Value> = claims.as_object().cloned().unwrap_or_default();
    claims.insert("sub".into(), json!("alice"));
    Session {
        sub: "alice".into(),
        iat: NOW_S,
        exp: NOW_S + 8 * 3600,
        seen: NOW_S,
        claims,
        id_token: None,
        refresh_token: None,
        access_token: None,
        access_exp: None,
        renewals: 0,
        sid: None,
    }
}

/// The sessions the scene seals: plain; refreshable (its access token is due 30 s before
/// `NOW_S + 600`); big enough to be chunked; and one sealed by the older key (6).
fn sessions() -> Vec<(Session, bool)> {
    let plain = alice(json!({"email": "alice@example.com", "email_verified": true, "groups": ["a"]}));
    let mut refreshable = alice(json!({"email": "alice@example.com"}));
    refreshable.refresh_token = Some("rt-1".into());
    refreshable.access_token = Some("at-1".into());
    refreshable.access_exp = Some(NOW_S + 600);
    refreshable.id_token = Some("id.token.1".into());
    let groups: Vec<String> = (0..300).map(|i| format!("group-with-a-long-name-{i:04}")).collect();
    let big = alice(json!({"groups": groups}));
    let old_key = alice(json!({"groups": ["old"]}));
    vec![(plain, false), (refreshable, false), (big, false), (old_key, true)]
}

impl Scene {
    pub fn new() -> Scene {
        let config = Rc::new(config());
        let (discovery, jwks) = (discovery(), jwks());
        let claims = json!({"iss": ISS, "sub": "svc", "aud": "api", "exp": NOW_S + 3600});
        let token = sign(&rsa_a(), Alg::RS256, "rsa", &claims);
        let rotated_token = sign(&rsa_a(), Alg::RS256, "rotated", &claims);
        let rotated_jwks = crate::keys::jwks(&[(rsa_a(), "rotated"), (crate::keys::ed_key(), "ed")]);
        let sc = session_config(&config);
        let old = SessionConfig {
            keys: Keys::new(&[[6u8; 32]]),
            cookies: sc.cookies.clone(),
            lifetime: sc.lifetime,
            idle_timeout: sc.idle_timeout,
            keep_id_token: sc.keep_id_token,
            refresh_margin: sc.refresh_margin,
        };
        let (mut sealed, mut session_cookies) = (Vec::new(), Vec::new());
        for (n, (s, old_key)) in sessions().into_iter().enumerate() {
            let by = if old_key { &old } else { sc };
            let set = session::write(by, &s, &[], &mut FixedRng(n as u8 * 50)).expect("a session seals");
            let header = cookie_header(&set);
            let value = session::sealed_value(sc, &header).expect("a session cookie").into_owned();
            sealed.push((s, value));
            session_cookies.push(header);
        }

        // Start a login the way a browser does, to get a real flow cookie and state.
        let mut gate = Gate::new(config.clone());
        feed(&mut gate.providers[0], &config, &discovery, &jwks, NOW_MS);
        let nav = [
            (":path", "/x"),
            (":method", "GET"),
            (":authority", ALLOWED),
            (":scheme", "https"),
            ("accept", "text/html"),
        ];
        let mut nav = MapHeaders(nav.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        let decision =
            with_io(&mut FixedRng(1), &mut LocalStore::default(), |io| gate.decide(&mut nav, NOW_MS, true, io));
        let Decision::Respond { response, .. } = decision else { panic!("no login redirect: {decision:?}") };
        let location = response.header("location").expect("a Location").to_string();
        let query = form::parse(location.split_once('?').map_or("", |(_, q)| q)).expect("a query");
        let param = |name: &str| form::get(&query, name).expect("state and nonce").to_string();
        let (state, nonce) = (param("state"), param("nonce"));
        let flow_cookie = response.header("set-cookie").and_then(|c| c.split(';').next()).expect("a flow cookie");

        let id_token = sign(
            &rsa_a(),
            Alg::RS256,
            "rsa",
            &json!({"iss": ISS, "aud": "web", "sub": "alice", "nonce": nonce, "iat": NOW_S, "exp": NOW_S + 3600,
                "groups": ["a"]}),
        );
        let token_response = json!({"id_token": id_token, "access_token": "at-login", "token_type": "Bearer",
            "expires_in": 3600, "refresh_token": "rt-login"})
        .to_string();
        let userinfo = json!({"sub": "alice", "email": "alice@example.com", "email_verified": true}).to_string();
        Scene {
            config,
            discovery,
            jwks,
            token,
            rotated_token,
            rotated_jwks,
            sessions: sealed,
            session_cookies,
            flow_cookie: flow_cookie.to_string(),
            state,
            nonce,
            id_token,
            token_response,
            userinfo,
            logout_tokens: logout_tokens(),
        }
    }

    /// A fresh gate (empty caches) with discovery and keys loaded: fed through
    /// `poll`/`on_response`, or `provider` when it is one so fed and left as it was.
    pub fn gate(&self, provider: Option<Provider>) -> Gate {
        let mut gate = Gate::new(self.config.clone());
        match provider {
            Some(p) => gate.providers[0] = p,
            None => feed(&mut gate.providers[0], &self.config, &self.discovery, &self.jwks, NOW_MS),
        }
        gate
    }

    /// The gate's login provider back, for the next gate, when nothing changed it: the
    /// harness fetched nothing for it (`fetched`), and the gate asked for no fetch (a
    /// re-fetch request leaves it `busy`). Feeding takes most of a run otherwise (the RSA
    /// key's Montgomery set-up); `Provider: Clone` would make this exact by construction.
    pub fn reusable(gate: &mut Gate, fetched: bool) -> Option<Provider> {
        let unchanged = !fetched && gate.providers.first().is_some_and(|p| !p.busy() && p.failures() == 0);
        unchanged.then(|| gate.providers.swap_remove(0))
    }
}

impl Default for Scene {
    fn default() -> Self {
        Scene::new()
    }
}

/// The `:authority` the scene's requests use.
pub const ALLOWED: &str = "app.example.com";

/// Tokens the fixture keys sign: every algorithm with its `kid`; without `kid`; and
/// claim sets that `check` refuses (expired, not yet valid, other issuer or audience,
/// no `exp`, dates as floats or strings, an ID token with `nonce`, `aud` as an array).
pub fn jwt_seeds() -> Vec<String> {
    use crate::keys::{all, ed_key, p256_key, sign_with_header};
    let base = json!({"iss": ISS, "sub": "svc", "aud": "api", "exp": NOW_S + 3600, "iat": NOW_S});
    let mut out = Vec::new();
    for (key, kid) in all() {
        for &alg in key.algs() {
            out.push(sign(&key, alg, kid, &base));
        }
    }
    out.push(sign_with_header(&p256_key(), &json!({"alg": "ES256"}), &base));
    out.push(sign_with_header(&ed_key(), &json!({"alg": "EdDSA", "typ": "at+jwt"}), &base));
    let with = |extra: Value| {
        let mut claims = base.clone();
        for (k, v) in extra.as_object().into_iter().flatten() {
            if v.is_null() {
                claims.as_object_mut().map(|c| c.remove(k));
            } else {
                claims[k] = v.clone();
            }
        }
        sign(&rsa_a(), Alg::RS256, "rsa", &claims)
    };
    for extra in [
        json!({"exp": NOW_S - 3600}),
        json!({"nbf": NOW_S + 3600}),
        json!({"iss": "https://evil.example.com"}),
        json!({"aud": ["other", "api"], "azp": "web"}),
        json!({"aud": "other"}),
        json!({"exp": null}),
        json!({"exp": 1.8e9 + 3600.5, "iat": 1.8e9}),
        json!({"exp": "soon"}),
        json!({"nonce": "n-1", "aud": "web"}),
    ] {
        out.push(with(extra));
    }
    out
}
