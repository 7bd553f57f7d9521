//! The answers at the end of a login: the token response and its ID token, validated
//! fully (OpenID Connect Core 1.0 section 3.1.3.7), and userinfo (section 5.3.2) for
//! claims the ID token lacks.

use serde_json::{Map, Value};

use super::callback::LoginContext;
use super::{Flow, LoginError};
use crate::core::identity::{lookup, overage};
use crate::core::idp::graph::{self, GraphError};
use crate::core::idp::token_endpoint::{self, TokenResponse};
use crate::core::idp::Callout;
use crate::core::session::Session;
use crate::core::token::{b64token, decode, Expect, JwtError};
use crate::core::web::AbsoluteUrl;

/// A login whose ID token passed: its session, and the userinfo call still to make when
/// mapped claims are missing.
#[derive(Debug)]
pub struct Checked {
    pub session: Session,
    pub userinfo: Option<Callout>,
    /// Microsoft Graph, for the groups of an overage (after userinfo, if any).
    pub graph: Option<Callout>,
}

/// Validates the token response and its ID token.
pub fn on_token_response(
    ctx: &LoginContext<'_>,
    flow: &Flow,
    status: Option<u16>,
    body: &[u8],
    now_s: u64,
) -> Result<Checked, LoginError> {
    let tokens = token_endpoint::parse(status, body)?;
    let id_token = tokens.id_token.clone().ok_or(LoginError::BadTokenResponse)?;
    let claims = verified_claims(ctx, &id_token, Some(&flow.nonce), now_s)?;
    if flow.step_up.as_ref().is_some_and(|s| !s.met_by(&claims, now_s, ctx.config.clock_skew)) {
        return Err(LoginError::StepUpNotMet);
    }
    let sub = claims.get("sub").and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or(LoginError::MissingSub)?;
    let config = &ctx.login.session;
    let mut session = Session::new(sub, now_s, config, ctx.config.identity.kept_claims(&claims));
    session.id_token = config.keep_id_token.then(|| id_token.clone());
    if ctx.login.backchannel.is_some() {
        session.sid = claims.get("sid").and_then(Value::as_str).map(str::to_string);
    }
    keep_tokens(&mut session, ctx, &tokens, now_s);
    let userinfo = ctx.provider.metadata.as_ref().and_then(|m| m.userinfo_endpoint.as_deref());
    let access_token = tokens.access_token.as_deref().filter(|t| b64token(t));
    let callout = match (ctx.config.identity.lacks(&claims), userinfo, access_token) {
        (true, Some(url), Some(access_token)) => {
            let url = AbsoluteUrl::parse(url).map_err(|_| LoginError::NoEndpoint)?;
            let auth = vec![("authorization", format!("Bearer {access_token}"))];
            Some(Callout::get(ctx.config.clusters.target(&url), auth))
        }
        _ => None,
    };
    // An Entra ID groups overage: the groups are read from Microsoft Graph, when configured.
    let graph = match (&ctx.login.graph, access_token) {
        (Some(url), Some(token)) if overage::overage(&claims, &ctx.config.authz.groups_claim) => {
            Some(graph::request(ctx.config.clusters.target(url), token))
        }
        _ => None,
    };
    Ok(Checked { session, userinfo: callout, graph })
}

/// Puts the groups Microsoft Graph answered in place of the overage markers: all of them
/// with a groups header (it shows them all), else only those the rules name (the session
/// cookie stays small).
pub fn on_graph_response(
    ctx: &LoginContext<'_>,
    session: &mut Session,
    status: Option<u16>,
    body: &[u8],
) -> Result<(), LoginError> {
    let mut groups = graph::parse(status, body).map_err(|e| match e {
        GraphError::Status(status) => LoginError::Graph { status, malformed: false },
        GraphError::Malformed => LoginError::Graph { status, malformed: true },
    })?;
    if ctx.config.identity.groups_header.is_none() {
        let named: Vec<&str> = ctx.config.authz.groups_named().collect();
        groups.retain(|g| named.contains(&g.as_str()));
    }
    overage::resolve(&mut session.claims, &ctx.config.authz.groups_claim, groups);
    Ok(())
}

/// The ID token's claims once its signature, `iss`, `aud`, `exp`, `iat`, `nonce` and
/// `azp` all check.
fn verified_claims(
    ctx: &LoginContext<'_>,
    id_token: &str,
    nonce: Option<&str>,
    now_s: u64,
) -> Result<Map<String, Value>, LoginError> {
    let keys = ctx.provider.keys.clone().ok_or(LoginError::IdToken(JwtError::UnknownKey))?;
    let jwt =
        decode(id_token, ctx.config.bearer.algorithms).and_then(|t| t.verify(&keys)).map_err(LoginError::IdToken)?;
    let audiences = [ctx.login.client_id.clone()];
    let issuer = ctx.provider.config.rule.checked(jwt.claims()).map_err(LoginError::IdToken)?;
    let expect = Expect { issuer, audiences: &audiences, now_s, skew: ctx.config.clock_skew };
    jwt.check(&expect).map_err(LoginError::IdToken)?;
    let claims = jwt.into_claims();
    if nonce.is_some_and(|n| claims.get("nonce").and_then(Value::as_str) != Some(n)) {
        return Err(LoginError::NonceMismatch);
    }
    // azp: when present it must be us; with several audiences it must be present.
    let several_aud = claims.get("aud").and_then(Value::as_array).is_some_and(|a| a.len() > 1);
    match claims.get("azp").and_then(Value::as_str) {
        Some(azp) if azp != ctx.login.client_id => Err(LoginError::AzpMismatch),
        None if several_aud => Err(LoginError::AzpMismatch),
        _ => Ok(claims),
    }
}

/// Keeps in the session what refresh and forwarding need from a token response.
pub fn keep_tokens(session: &mut Session, ctx: &LoginContext<'_>, tokens: &TokenResponse, now_s: u64) {
    if ctx.login.session.refresh_margin.is_some() {
        if let Some(rt) = tokens.refresh_token.as_ref().filter(|t| b64token(t)) {
            session.refresh_token = Some(rt.clone());
        }
    }
    if ctx.login.forward_access_token {
        session.access_token = tokens.access_token.clone().filter(|t| b64token(t));
    }
    let unknown = now_s.saturating_add(crate::core::session::refresh::UNKNOWN_EXPIRY.as_secs());
    session.access_exp = Some(tokens.access_exp(now_s).unwrap_or(unknown));
}

/// The claims of an ID token that a refresh returned: checked like a login's (signature,
/// `iss`, `aud`, `azp`, times), and it must name the same `sub` (OpenID Connect Core 1.0
/// section 12.2). Its `nonce`, if any, is the original login's, which the session does
/// not keep.
pub fn refreshed_claims(
    ctx: &LoginContext<'_>,
    id_token: &str,
    sub: &str,
    now_s: u64,
) -> Result<Map<String, Value>, LoginError> {
    let claims = verified_claims(ctx, id_token, None, now_s)?;
    if claims.get("sub").and_then(Value::as_str) != Some(sub) {
        return Err(LoginError::RefreshedSubMismatch);
    }
    Ok(claims)
}

/// Adds userinfo claims; its `sub` must be the ID token's. ID token claims win where
/// both have one.
pub fn on_userinfo_response(
    ctx: &LoginContext<'_>,
    session: &mut Session,
    status: Option<u16>,
    body: &[u8],
) -> Result<(), LoginError> {
    if status != Some(200) {
        return Err(LoginError::Userinfo { status });
    }
    let info: Map<String, Value> = serde_json::from_slice(body).map_err(|_| LoginError::Userinfo { status })?;
    if info.get("sub").and_then(Value::as_str) != Some(session.sub.as_str()) {
        return Err(LoginError::UserinfoSubMismatch);
    }
    // `email` and `email_verified` are one pair, from one document: userinfo's
    // `email_verified` never vouches for the ID token's `email`, nor the reverse.
    let email_from_userinfo = !session.claims.contains_key("email") && info.contains_key("email");
    if email_from_userinfo {
        session.claims.remove("email_verified");
    }
    let groups_claim = &ctx.config.authz.groups_claim;
    let groups_in_token = lookup(&session.claims, groups_claim).is_some();
    for (k, v) in ctx.config.identity.kept_claims(&info) {
        // How the person authenticated is the ID token's word alone.
        if (k == "email_verified" && !email_from_userinfo) || k == "acr" || k == "auth_time" {
            continue;
        }
        session.claims.entry(k).or_insert(v);
    }
    // GitLab's groups: from userinfo only; a refresh's ID token never names them.
    if !groups_in_token && lookup(&session.claims, groups_claim).is_some() {
        overage::filled(&mut session.claims);
    }
    Ok(())
}
