//! The login callback's callouts, driven from the request's own context: code
//! exchange, then userinfo when needed, then the session cookie.

use proxy_wasm::types::LogLevel;
use std::cell::RefCell;
use std::rc::Rc;

use super::host::{self, HostRandom, Metrics};
use super::root::Worker;
use crate::core::config::Config;
use crate::core::gate::Exchange;
use crate::core::jwt::JwtError;
use crate::core::login::{self, AfterToken, LoginError, Pending};
use crate::core::metrics::Counter;
use crate::core::pages::Page;

/// Where a login callback stands while its callout is under way.
pub enum LoginStep {
    Token(Box<Exchange>),
    Userinfo(Box<Exchange>, Box<Pending>),
}

fn fail(exchange: &Exchange, metrics: &Metrics, error: &LoginError) -> Option<LoginStep> {
    metrics.inc(Counter::LoginFailed);
    host::log(LogLevel::Warn, &format!("oidc-gate: login failed: {}", error.reason()));
    let (page, detail) = error.page();
    host::send(&page.render(detail.as_deref(), exchange.request_id.as_deref(), "/"));
    None
}

fn unreachable(exchange: &Exchange, metrics: &Metrics, why: &str) -> Option<LoginStep> {
    metrics.inc(Counter::LoginFailed);
    host::log(LogLevel::Error, &format!("oidc-gate: login failed: {why}"));
    host::send(&Page::IdpUnreachable.render(None, exchange.request_id.as_deref(), "/"));
    None
}

/// Starts the code exchange.
pub fn begin(exchange: Exchange, config: &Config, metrics: &Metrics) -> Option<LoginStep> {
    match host::dispatch(&exchange.callout, config.idp_timeout) {
        Ok(_) => Some(LoginStep::Token(Box::new(exchange))),
        Err(why) => unreachable(&exchange, metrics, &why),
    }
}

fn finish(exchange: &Exchange, pending: &Pending, config: &Config, metrics: &Metrics) -> Option<LoginStep> {
    let Some(login) = config.login.as_ref() else {
        return unreachable(exchange, metrics, "login is not configured");
    };
    let mut rng = HostRandom::default();
    let result = login::finish(
        login,
        pending,
        &exchange.flow,
        &exchange.flow_cookie,
        exchange.cookie_header.as_deref(),
        &mut rng,
    );
    match result {
        Ok(_) if rng.failed => unreachable(exchange, metrics, "the random source failed"),
        Ok(response) => {
            metrics.inc(Counter::LoginCompleted);
            host::send(&response);
            None
        }
        Err(e) => fail(exchange, metrics, &e),
    }
}

/// Takes a callout response and moves the login on; `None` when it is over.
pub fn advance(
    step: LoginStep,
    worker: &Rc<RefCell<Worker>>,
    metrics: &Metrics,
    status: Option<u16>,
    body: &[u8],
) -> Option<LoginStep> {
    let exchange = match &step {
        LoginStep::Token(e) | LoginStep::Userinfo(e, _) => e,
    };
    let Ok(mut w) = worker.try_borrow_mut() else {
        return unreachable(exchange, metrics, "worker state busy");
    };
    let config = w.gate.config.clone();
    let (Some(login), true) = (config.login.as_ref(), !w.gate.providers.is_empty()) else {
        drop(w);
        return unreachable(exchange, metrics, "login is not configured");
    };
    let now = host::now_ms();
    match step {
        LoginStep::Token(exchange) => {
            let provider = w.gate.providers.first()?;
            let result = login::on_token_response(&config, login, provider, &exchange.flow, status, body, now / 1000);
            if let Err(LoginError::IdToken(JwtError::UnknownKey)) = &result {
                // The IdP rotated its keys: fetch them so that the next attempt succeeds.
                let min = config.jwks_refetch_min_interval.as_millis() as u64;
                if let Some(p) = w.gate.providers.first_mut() {
                    p.request_refetch(now, min);
                }
            }
            drop(w);
            match result {
                Ok(AfterToken::Done(pending)) => finish(&exchange, &pending, &config, metrics),
                Ok(AfterToken::Userinfo { pending, callout }) => match host::dispatch(&callout, config.idp_timeout) {
                    Ok(_) => Some(LoginStep::Userinfo(exchange, Box::new(pending))),
                    Err(why) => unreachable(&exchange, metrics, &why),
                },
                Err(e) => fail(&exchange, metrics, &e),
            }
        }
        LoginStep::Userinfo(exchange, pending) => {
            drop(w);
            match login::on_userinfo_response(&config, *pending, status, body) {
                Ok(pending) => finish(&exchange, &pending, &config, metrics),
                Err(e) => fail(&exchange, metrics, &e),
            }
        }
    }
}
