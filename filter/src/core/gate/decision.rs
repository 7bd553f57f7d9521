//! What the gate decides for a request, in a form the shell carries out without
//! deciding anything itself.

use std::rc::Rc;

use super::denial::Denial;
use super::introspect::Introspection;
use super::metrics::Counter;
use super::refresh::RefreshCall;
use crate::core::identity::Identity;
use crate::core::idp::Callout;
use crate::core::login::Callback;
use crate::core::web::LocalResponse;

/// What to do with the `Cookie` header sent upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieRewrite {
    Keep,
    Set(String),
    Remove,
}

/// How loud a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
}

/// A line for Envoy's log. Never holds a token, code, cookie or secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: Level,
    pub message: String,
}

/// What to do with a request.
#[derive(Debug)]
pub enum Decision {
    /// Let it through with this identity (and `Set-Cookie`s on the response).
    Allow {
        identity: Rc<Identity>,
        counter: Counter,
        cookie: CookieRewrite,
        set_cookies: Vec<String>,
        /// The signed identity assertion, for `assertion.header` (removed when `None`).
        assertion: Option<Rc<str>>,
    },
    Deny(Denial),
    /// Answer here: a redirect or a page.
    Respond {
        response: LocalResponse,
        counter: Counter,
        log: Option<LogLine>,
    },
    /// What the request needs (keys, metadata, a shared call's outcome) is on its way:
    /// pause. Later, `Gate::resume_after_wait` takes `pending` when there is one, else
    /// the request is decided again (and then never waits).
    Wait {
        on: WaitFor,
        pending: Option<Pending>,
    },
    /// Make this callout for the request, then hand its answer to `Gate::resume`.
    Call {
        callout: Callout,
        pending: Pending,
    },
    /// A back-channel logout: read the request's body (at most
    /// `login::backchannel::MAX_BODY`), then hand it to `Gate::backchannel_logout`.
    ReadBody,
}

/// What a paused request waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitFor {
    /// Issuer `n`'s discovery document and keys.
    Provider(usize),
    /// A call that another request (maybe on another worker) makes: its shared slot.
    Flight(Rc<str>),
}

/// A request's own exchange with the IdP, in progress.
#[derive(Debug)]
pub enum Pending {
    Login(Box<Callback>),
    Introspect(Box<Introspection>),
    Refresh(Box<RefreshCall>),
}

impl Pending {
    /// The shared slot the call claimed (introspections and refreshes), and its subject.
    pub(super) fn claimed(&self) -> Option<(&str, crate::core::shared::flight::Id)> {
        match self {
            Pending::Login(_) => None,
            Pending::Introspect(call) => call.claimed(),
            Pending::Refresh(call) => call.claimed(),
        }
    }
}
