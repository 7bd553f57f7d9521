//! The login callback as one state machine: check the browser's return (`state`, `error`,
//! `iss`), exchange the code, validate the ID token, ask userinfo when claims are
//! missing, then set the session cookie. The shell only makes the callouts it asks for.

use super::flow::Flow;
use super::github::{self, GithubLogin, Next};
use super::id_token::{on_graph_response, on_token_response, on_userinfo_response};
use super::LoginError;
use crate::core::authz::Refusal;
use crate::core::config::{Config, LoginConfig};
use crate::core::idp::client::Signer;
use crate::core::idp::token_endpoint::TokenRequest;
use crate::core::idp::{error_code, Callout, Provider};
use crate::core::rand::Random;
use crate::core::session::cookie::ATTRS;
use crate::core::session::{self, Session};
use crate::core::token::JwtError;
use crate::core::web::{cookies, form, safe_return, AbsoluteUrl, LocalResponse, Origin};

/// What a login step reads: the configuration and the login issuer's state.
pub struct LoginContext<'a> {
    pub config: &'a Config,
    pub login: &'a LoginConfig,
    pub provider: &'a Provider,
}

/// What the callback request carries.
pub struct CallbackRequest<'a> {
    pub origin: &'a Origin,
    pub query: &'a str,
    pub cookie_header: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub now_s: u64,
}

/// A login callback waiting for the IdP. `Debug` shows no secret.
#[derive(Debug)]
pub struct Callback {
    flow: Flow,
    flow_cookie: String,
    cookie_header: Option<String>,
    request_id: Option<String>,
    stage: Stage,
    /// The JWKS was already re-fetched for this login's ID token.
    refetched: bool,
}

enum Stage {
    /// The code exchange is under way.
    Token,
    /// The ID token names a key the JWKS lacks (the IdP rotated its keys): its token
    /// response waits for a re-fetch, to be checked again.
    AwaitKeys(Vec<u8>),
    /// The ID token passed; userinfo is asked for the claims it lacks (then Microsoft
    /// Graph, when this call is there).
    Userinfo(Box<Session>, Option<Callout>),
    /// Microsoft Graph is asked for the groups of an overage.
    Graph(Box<Session>),
    /// GitHub: the person is read from its API.
    Github(Box<GithubLogin>),
}

impl std::fmt::Debug for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Token => "Token",
            Stage::AwaitKeys(_) => "AwaitKeys([redacted])",
            Stage::Userinfo(..) => "Userinfo",
            Stage::Graph(_) => "Graph",
            Stage::Github(_) => "Github",
        })
    }
}

/// What the callback does next.
#[derive(Debug)]
pub enum Step {
    /// Make this callout and hand its answer to [`Callback::on_response`].
    Call(Box<Callback>, Callout),
    /// The IdP's keys are needed: before the exchange (`None`: decide the request again
    /// once they are in), or for the ID token (take the callback up again with
    /// [`Callback::after_keys`] once a re-fetch brought them).
    NeedKeys(Option<Box<Callback>>),
    /// Signed in: the session cookies and the redirect back to the page.
    Done(LocalResponse),
    /// The login failed: the page to show, and why (for the log).
    Failed(LocalResponse, LoginError),
}

fn failed(error: LoginError, request_id: Option<&str>, clear: Option<&str>) -> Step {
    let (page, detail) = error.page();
    let clear = clear.map(|name| cookies::clear_cookie(name, &ATTRS));
    Step::Failed(page.render(detail, request_id, "/").with_cookies(clear), error)
}

impl Callback {
    /// Checks the callback's `state`, `error` and `iss`, and starts the code exchange.
    pub fn begin(ctx: &LoginContext<'_>, req: &CallbackRequest<'_>, rng: &mut dyn Random) -> Step {
        if ctx.provider.keys.is_none() && ctx.provider.signs_tokens() {
            return Step::NeedKeys(None);
        }
        let Some(params) = form::parse(req.query) else {
            return failed(LoginError::MalformedQuery, req.request_id, None);
        };
        let state = form::get(&params, "state").unwrap_or("");
        let Some(flow_cookie) = Flow::cookie_name(&ctx.login.session, state) else {
            return failed(LoginError::NoState, req.request_id, None);
        };
        let flow = Flow::open(&ctx.login.session, req.cookie_header, &flow_cookie).filter(|f| f.state == state);
        let Some(flow) = flow else {
            return failed(LoginError::NoFlow, req.request_id, None);
        };
        match Callback::exchange(ctx, req, &params, &flow, rng) {
            Ok(callout) => {
                let cookie_header = req.cookie_header.map(str::to_string);
                let request_id = req.request_id.map(str::to_string);
                let callback =
                    Callback { flow, flow_cookie, cookie_header, request_id, stage: Stage::Token, refetched: false };
                Step::Call(Box::new(callback), callout)
            }
            Err(e) => failed(e, req.request_id, Some(&flow_cookie)),
        }
    }

    /// The code exchange for a callback whose flow is this browser's.
    fn exchange(
        ctx: &LoginContext<'_>,
        req: &CallbackRequest<'_>,
        params: &[(String, String)],
        flow: &Flow,
        rng: &mut dyn Random,
    ) -> Result<Callout, LoginError> {
        if flow.expired(req.now_s) {
            return Err(LoginError::FlowExpired);
        }
        if let Some(error) = form::get(params, "error") {
            return Err(LoginError::IdpRefused(error_code(error)));
        }
        let metadata = ctx.provider.metadata.as_ref().ok_or(LoginError::NoMetadata)?;
        match form::get(params, "iss") {
            Some(iss) if !ctx.provider.config.rule.accepts_response_iss(iss) => return Err(LoginError::IssMismatch),
            None if metadata.iss_parameter_supported => return Err(LoginError::IssMissing),
            _ => {}
        }
        let code = form::get(params, "code").filter(|c| !c.is_empty()).ok_or(LoginError::NoCode)?;
        let token_url = metadata.token_endpoint.as_deref().and_then(|u| AbsoluteUrl::parse(u).ok());
        let token_url = token_url.ok_or(LoginError::NoEndpoint)?;
        let redirect_uri = ctx.login.redirect_uri_for(req.origin.scheme, &req.origin.authority);
        let at = TokenRequest { client: &ctx.config.client, url: &token_url, clusters: &ctx.config.clusters };
        let signer = Signer { now_s: req.now_s, rng };
        at.code_exchange(code, &redirect_uri, &flow.verifier, signer).map_err(|_| LoginError::ClientAssertion)
    }

    /// Takes the answer to the callout of the last step (`status` is `None` when there
    /// was no answer) and moves the login on.
    pub fn on_response(
        mut self: Box<Self>,
        ctx: &LoginContext<'_>,
        status: Option<u16>,
        body: &[u8],
        now_s: u64,
        rng: &mut dyn Random,
    ) -> Step {
        let stage = std::mem::replace(&mut self.stage, Stage::Token);
        let session = match stage {
            Stage::Token if ctx.config.github.is_some() => match github::on_token_response(ctx, status, body) {
                Ok((login, callout)) => {
                    self.stage = Stage::Github(Box::new(login));
                    return Step::Call(self, callout);
                }
                Err(e) => Err(e),
            },
            Stage::Github(login) => match login.on_response(ctx, status, body, now_s) {
                Ok((login, Next::Call(callout))) => {
                    self.stage = Stage::Github(login);
                    return Step::Call(self, callout);
                }
                Ok((_, Next::Done(session))) => Ok(*session),
                Err(e) => Err(e),
            },
            Stage::Token => match on_token_response(ctx, &self.flow, status, body, now_s) {
                Ok(checked) => match (checked.userinfo, checked.graph) {
                    (Some(callout), graph) => {
                        self.stage = Stage::Userinfo(Box::new(checked.session), graph);
                        return Step::Call(self, callout);
                    }
                    (None, Some(callout)) => {
                        self.stage = Stage::Graph(Box::new(checked.session));
                        return Step::Call(self, callout);
                    }
                    (None, None) => Ok(checked.session),
                },
                Err(LoginError::IdToken(JwtError::UnknownKey)) if !self.refetched => {
                    self.refetched = true;
                    self.stage = Stage::AwaitKeys(body.to_vec());
                    return Step::NeedKeys(Some(self));
                }
                Err(e) => Err(e),
            },
            Stage::AwaitKeys(_) => Err(LoginError::IdToken(JwtError::UnknownKey)),
            Stage::Userinfo(mut session, graph) => match (on_userinfo_response(ctx, &mut session, status, body), graph)
            {
                (Ok(()), Some(callout)) => {
                    self.stage = Stage::Graph(session);
                    return Step::Call(self, callout);
                }
                (result, _) => result.map(|()| *session),
            },
            Stage::Graph(mut session) => on_graph_response(ctx, &mut session, status, body).map(|()| *session),
        };
        match session.and_then(|s| self.finish(ctx, &s, rng)) {
            Ok(response) => Step::Done(response),
            Err(e) => failed(e, self.request_id.as_deref(), Some(&self.flow_cookie)),
        }
    }

    /// Session cookies set, flow cookie cleared, back to the page.
    fn finish(&self, ctx: &LoginContext<'_>, s: &Session, rng: &mut dyn Random) -> Result<LocalResponse, LoginError> {
        // The global requirements, before any session exists.
        if let Err(refusal) = ctx.config.authz.admits(&s.claims) {
            return Err(LoginError::NotAllowed(match refusal {
                Refusal::Forbidden { reason } => reason,
                Refusal::InsufficientScope { .. } => "scopes".into(),
            }));
        }
        let config = &ctx.login.session;
        let present = config.cookies.sessions_in(self.cookie_header.as_deref());
        let mut set_cookies = session::write(config, s, &present, rng).ok_or(LoginError::SessionTooLarge)?;
        set_cookies.push(cookies::clear_cookie(&self.flow_cookie, &ATTRS));
        let back = safe_return(&self.flow.target, &ctx.login.allowed_redirect_hosts);
        Ok(LocalResponse::redirect(back, set_cookies))
    }

    /// Takes the callback up again after the JWKS re-fetch it asked for: the ID token is
    /// checked again, and a key still unknown fails the login.
    pub fn after_keys(mut self: Box<Self>, ctx: &LoginContext<'_>, now_s: u64, rng: &mut dyn Random) -> Step {
        match std::mem::replace(&mut self.stage, Stage::Token) {
            Stage::AwaitKeys(body) => self.on_response(ctx, Some(200), &body, now_s, rng),
            _ => self.fail(LoginError::NoKeys),
        }
    }

    /// Ends the login on a page.
    pub fn fail(&self, error: LoginError) -> Step {
        failed(error, self.request_id.as_deref(), Some(&self.flow_cookie))
    }

    /// A callback that cannot wait for the keys it needs.
    pub fn without_keys(request_id: Option<&str>) -> Step {
        failed(LoginError::NoKeys, request_id, None)
    }
}
