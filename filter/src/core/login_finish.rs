//! The second half of a login: the token response, the ID token, userinfo, the session.

use super::*;

/// A login that passed the ID token checks, waiting for its session cookie.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub session: Session,
}

#[derive(Debug)]
pub enum AfterToken {
    /// Some configured identity claims are not in the ID token: ask userinfo.
    Userinfo {
        pending: Pending,
        callout: Callout,
    },
    Done(Pending),
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// The claim names the identity headers read (top-level names).
fn wanted_claims(config: &Config) -> Vec<&str> {
    config.identity_headers.iter().map(|m| m.claim.split('.').next().unwrap_or(&m.claim)).collect()
}

fn keep(claims: &Map<String, Value>, config: &Config) -> Map<String, Value> {
    let mut out = Map::new();
    for m in &config.identity_headers {
        let key =
            if claims.contains_key(&m.claim) { m.claim.as_str() } else { m.claim.split('.').next().unwrap_or("") };
        if let Some(v) = claims.get(key) {
            out.insert(key.to_string(), v.clone());
        }
    }
    if let Some(sub) = claims.get("sub") {
        out.insert("sub".into(), sub.clone());
    }
    out
}

/// Validates the token response and its ID token (OpenID Connect Core 3.1.3.7).
pub fn on_token_response(
    config: &Config,
    login: &LoginConfig,
    provider: &Provider,
    flow: &Flow,
    status: Option<u16>,
    body: &[u8],
    now: u64,
) -> Result<AfterToken, LoginError> {
    if status != Some(200) {
        let error = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(sanitize_code));
        return Err(LoginError::TokenEndpoint { status, error });
    }
    let tokens: TokenResponse = serde_json::from_slice(body).map_err(|_| LoginError::BadTokenResponse)?;
    let id_token = tokens.id_token.ok_or(LoginError::BadTokenResponse)?;
    let keys = provider.keys.clone().ok_or(LoginError::IdToken(JwtError::UnknownKey))?;
    let untrusted = decode(&id_token, config.algorithms).map_err(LoginError::IdToken)?;
    untrusted.verify_signature(&keys).map_err(LoginError::IdToken)?;
    let audiences = [login.client_id.clone()];
    let expect = Expect { issuer: provider.issuer(), audiences: &audiences, now, skew: config.clock_skew };
    check_claims(&untrusted.claims, &expect).map_err(LoginError::IdToken)?;
    let claims = untrusted.claims;
    if claims.get("nonce").and_then(Value::as_str) != Some(flow.nonce.as_str()) {
        return Err(LoginError::NonceMismatch);
    }
    // azp: when present it must be us; with several audiences it must be present.
    let several_aud = claims.get("aud").and_then(Value::as_array).is_some_and(|a| a.len() > 1);
    match claims.get("azp").and_then(Value::as_str) {
        Some(azp) if azp != login.client_id => return Err(LoginError::AzpMismatch),
        None if several_aud => return Err(LoginError::AzpMismatch),
        _ => {}
    }
    let sub = claims.get("sub").and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or(LoginError::MissingSub)?;
    let session = Session {
        sub: sub.to_string(),
        iat: now,
        exp: now.saturating_add(login.lifetime),
        seen: now,
        claims: keep(&claims, config),
        id_token: login.keep_id_token.then_some(id_token),
    };
    let pending = Pending { session };
    let missing = wanted_claims(config).iter().any(|c| !claims.contains_key(*c));
    let userinfo = provider.metadata.as_ref().and_then(|m| m.userinfo_endpoint.as_deref());
    // RFC 6750 b64token: nothing else goes into the Authorization header.
    let b64token = |t: &String| {
        !t.is_empty() && t.len() <= 16 * 1024 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
    };
    match (missing, userinfo, tokens.access_token.filter(b64token)) {
        (true, Some(url), Some(access_token)) => {
            let url = AbsoluteUrl::parse(url).map_err(|_| LoginError::NoMetadata)?;
            let callout = Callout {
                target: config.clusters.target(&url),
                method: "GET",
                headers: vec![
                    ("authorization", format!("Bearer {access_token}")),
                    ("accept", "application/json".to_string()),
                ],
                body: None,
            };
            Ok(AfterToken::Userinfo { pending, callout })
        }
        _ => Ok(AfterToken::Done(pending)),
    }
}

/// Adds userinfo claims (OpenID Connect Core 5.3.2: its `sub` must be the ID token's).
/// ID token claims win where both have one.
pub fn on_userinfo_response(
    config: &Config,
    mut pending: Pending,
    status: Option<u16>,
    body: &[u8],
) -> Result<Pending, LoginError> {
    if status != Some(200) {
        return Err(LoginError::Userinfo { status });
    }
    let info: Map<String, Value> = serde_json::from_slice(body).map_err(|_| LoginError::Userinfo { status })?;
    if info.get("sub").and_then(Value::as_str) != Some(pending.session.sub.as_str()) {
        return Err(LoginError::UserinfoSubMismatch);
    }
    for (k, v) in keep(&info, config) {
        pending.session.claims.entry(k).or_insert(v);
    }
    Ok(pending)
}

/// The end of a login: session cookies set, flow cookie cleared, back to the page.
pub fn finish(
    login: &LoginConfig,
    pending: &Pending,
    flow: &Flow,
    flow_cookie: &str,
    cookie_header: Option<&str>,
    rng: &mut dyn Random,
) -> Result<LocalResponse, LoginError> {
    let present = session::present_names(login, cookie_header);
    let mut set_cookies = session::write(login, &pending.session, &present, rng).ok_or(LoginError::SessionTooLarge)?;
    set_cookies.push(cookies::clear_cookie(flow_cookie, &ATTRS));
    Ok(redirect(&safe_return(&flow.target, &login.allowed_redirect_hosts), set_cookies))
}
