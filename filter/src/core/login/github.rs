//! The end of a GitHub login: GitHub answers the code exchange with an access token only
//! (no ID token), so the person is read from its REST API with that token: `/user`, then
//! `/user/emails` (the verified primary address), then `/user/orgs` and `/user/teams`
//! when organisations or teams restrict who may sign in or feed the groups claim. Each
//! list is read page by page (100 a page, at most [`MAX_PAGES`]).
//!
//! The claims made: `sub` (the account's numeric id, as text: stable across renames),
//! `login` (the login name), `github_id`, `name`, `email` and `email_verified`, and the
//! groups claim (`org` and `org/team`, lower-case).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::callback::LoginContext;
use super::id_token::keep_tokens;
use super::LoginError;
use crate::core::config::GithubConfig;
use crate::core::idp::token_endpoint::{self, TokenResponse};
use crate::core::idp::Callout;
use crate::core::session::Session;
use crate::core::token::b64token;
use crate::core::web::AbsoluteUrl;

/// Pages read of one list; beyond 100 × this many organisations or teams, the rest are
/// not seen (a restriction they would have met refuses the login: it fails closed).
pub const MAX_PAGES: u32 = 10;
const PER_PAGE: usize = 100;

/// The API version asked for (the shell sends `User-Agent: oidc-gate` on every callout,
/// which GitHub's API requires).
const API_VERSION: &str = "2022-11-28";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    User,
    Emails,
    Orgs(u32),
    Teams(u32),
}

/// A GitHub login between its API calls. `Debug` shows no token.
pub struct GithubLogin {
    tokens: TokenResponse,
    read: Read,
    claims: Map<String, Value>,
    orgs: Vec<String>,
    teams: Vec<String>,
}

impl std::fmt::Debug for GithubLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GithubLogin {{ read: {:?}, token: [redacted] }}", self.read)
    }
}

#[derive(Deserialize)]
struct User {
    login: String,
    id: u64,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

#[derive(Deserialize)]
struct Org {
    login: String,
}

#[derive(Deserialize)]
struct Team {
    slug: String,
    organization: Org,
}

fn github<'a>(ctx: &LoginContext<'a>) -> Result<&'a GithubConfig, LoginError> {
    ctx.config.github.as_ref().ok_or(LoginError::NoEndpoint)
}

/// A login or slug as GitHub spells them: ASCII letters, digits, `-`, `_`, `.`.
fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Reads the code exchange's answer (GitHub reports errors as a 200 with an `error`
/// field) and starts reading the person.
pub fn on_token_response(
    ctx: &LoginContext<'_>,
    status: Option<u16>,
    body: &[u8],
) -> Result<(GithubLogin, Callout), LoginError> {
    let tokens = token_endpoint::parse(status, body)?;
    if !tokens.access_token.as_deref().is_some_and(b64token) {
        return Err(LoginError::BadTokenResponse);
    }
    let login = GithubLogin { tokens, read: Read::User, claims: Map::new(), orgs: Vec::new(), teams: Vec::new() };
    let callout = login.call(ctx)?;
    Ok((login, callout))
}

/// What one API answer leads to.
pub enum Next {
    Call(Callout),
    Done(Box<Session>),
}

impl GithubLogin {
    /// The API call for the current read.
    fn call(&self, ctx: &LoginContext<'_>) -> Result<Callout, LoginError> {
        let api = &github(ctx)?.api_url;
        let url = match self.read {
            Read::User => format!("{api}/user"),
            Read::Emails => format!("{api}/user/emails?per_page={PER_PAGE}"),
            Read::Orgs(page) => format!("{api}/user/orgs?per_page={PER_PAGE}&page={page}"),
            Read::Teams(page) => format!("{api}/user/teams?per_page={PER_PAGE}&page={page}"),
        };
        let url = AbsoluteUrl::parse(&url).map_err(|_| LoginError::NoEndpoint)?;
        let token = self.tokens.access_token.as_deref().unwrap_or("");
        let headers =
            vec![("authorization", format!("Bearer {token}")), ("x-github-api-version", API_VERSION.to_string())];
        Ok(Callout::get(ctx.config.clusters.target(&url), headers))
    }

    /// Takes the answer to the last API call: the next call, or the session.
    pub fn on_response(
        mut self: Box<Self>,
        ctx: &LoginContext<'_>,
        status: Option<u16>,
        body: &[u8],
        now_s: u64,
    ) -> Result<(Box<Self>, Next), LoginError> {
        let config = github(ctx)?;
        let what = match self.read {
            Read::User => "user",
            Read::Emails => "user/emails",
            Read::Orgs(_) => "user/orgs",
            Read::Teams(_) => "user/teams",
        };
        if status != Some(200) {
            return Err(LoginError::Github { what, status });
        }
        let next = self.take(config, body).map_err(|()| LoginError::Github { what, status })?;
        match next {
            Some(read) => {
                self.read = read;
                let callout = self.call(ctx)?;
                Ok((self, Next::Call(callout)))
            }
            None => {
                let session = self.session(ctx, config, now_s)?;
                Ok((self, Next::Done(Box::new(session))))
            }
        }
    }

    /// Reads one API answer into the login; the read that comes next, if any. `Err` when
    /// the body is not the JSON GitHub documents.
    fn take(&mut self, config: &GithubConfig, body: &[u8]) -> Result<Option<Read>, ()> {
        Ok(match self.read {
            Read::User => {
                let user: User = serde_json::from_slice(body).map_err(|_| ())?;
                if !is_slug(&user.login) {
                    return Err(());
                }
                // The account's id, never its login: a login is freed by a rename and can be
                // registered by someone else.
                self.claims.insert("sub".into(), user.id.to_string().into());
                self.claims.insert("login".into(), user.login.into());
                self.claims.insert("github_id".into(), user.id.into());
                if let Some(name) = user.name.filter(|n| !n.is_empty()) {
                    self.claims.insert("name".into(), name.into());
                }
                Some(Read::Emails)
            }
            Read::Emails => {
                let emails: Vec<Email> = serde_json::from_slice(body).map_err(|_| ())?;
                // Only the primary address, and only once GitHub has verified it.
                if let Some(e) = emails.iter().find(|e| e.primary && e.verified) {
                    self.claims.insert("email".into(), e.email.clone().into());
                    self.claims.insert("email_verified".into(), true.into());
                }
                self.after(config, None)
            }
            Read::Orgs(page) => {
                let orgs: Vec<Org> = serde_json::from_slice(body).map_err(|_| ())?;
                let full = orgs.len() >= PER_PAGE;
                self.orgs.extend(orgs.into_iter().map(|o| o.login.to_ascii_lowercase()).filter(|o| is_slug(o)));
                match full && page < MAX_PAGES {
                    true => Some(Read::Orgs(page + 1)),
                    false => self.after(config, Some(Read::Orgs(page))),
                }
            }
            Read::Teams(page) => {
                let teams: Vec<Team> = serde_json::from_slice(body).map_err(|_| ())?;
                let full = teams.len() >= PER_PAGE;
                self.teams.extend(
                    teams
                        .into_iter()
                        .filter(|t| is_slug(&t.organization.login) && is_slug(&t.slug))
                        .map(|t| format!("{}/{}", t.organization.login, t.slug).to_ascii_lowercase()),
                );
                match full && page < MAX_PAGES {
                    true => Some(Read::Teams(page + 1)),
                    false => None,
                }
            }
        })
    }

    /// What is read after a list ended (`done`), or after the emails (`None`).
    fn after(&self, config: &GithubConfig, done: Option<Read>) -> Option<Read> {
        match done {
            None if config.read_orgs => Some(Read::Orgs(1)),
            None | Some(Read::Orgs(_)) if config.read_teams => Some(Read::Teams(1)),
            _ => None,
        }
    }

    /// The person's session, if the organisations and teams allow them in.
    fn session(&mut self, ctx: &LoginContext<'_>, config: &GithubConfig, now_s: u64) -> Result<Session, LoginError> {
        if !config.organizations.is_empty() && !self.orgs.iter().any(|o| config.organizations.contains(o)) {
            return Err(LoginError::NotAllowed("not a member of an allowed GitHub organization".into()));
        }
        if !config.teams.is_empty() && !self.teams.iter().any(|t| config.teams.contains(t)) {
            return Err(LoginError::NotAllowed("not a member of an allowed GitHub team".into()));
        }
        let mut groups = std::mem::take(&mut self.orgs);
        groups.append(&mut self.teams);
        groups.sort();
        groups.dedup();
        self.claims.insert(config.groups_claim.clone(), Value::Array(groups.into_iter().map(Value::from).collect()));
        let sub = self.claims.get("sub").and_then(Value::as_str).unwrap_or("").to_string();
        if sub.is_empty() {
            return Err(LoginError::MissingSub);
        }
        let session_config = &ctx.login.session;
        let mut session = Session::new(&sub, now_s, session_config, ctx.config.identity.kept_claims(&self.claims));
        keep_tokens(&mut session, ctx, &self.tokens, now_s);
        Ok(session)
    }
}
