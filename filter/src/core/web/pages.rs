//! Short HTML pages for what a person can hit. They say what happened and what to do,
//! carry Envoy's request id for support, and never show internals.

use super::response::{LocalResponse, FORM_PAGE_CSP, PAGE_CSP};

/// The situations a person can see a page for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// The callback's `state` matches no login in this browser (forged, replayed, expired).
    InvalidState,
    /// The IdP answered the authorization request with `error=`.
    IdpError,
    /// The IdP could not be reached (or its keys never loaded).
    IdpUnreachable,
    /// The code exchange or the ID token failed.
    LoginFailed,
    /// The session ended and the request cannot simply be redirected (not a GET).
    SessionExpired,
    /// The IdP signed the person in, but the gate's requirements do not let them in.
    NotAllowed,
    /// A page needs a stronger or more recent sign-in, and the IdP did not give one.
    StepUpNotMet,
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

impl Page {
    pub fn status(self) -> u32 {
        match self {
            Page::InvalidState => 400,
            Page::IdpError => 403,
            Page::IdpUnreachable => 503,
            Page::LoginFailed => 502,
            Page::SessionExpired => 401,
            Page::NotAllowed => 403,
            Page::StepUpNotMet => 403,
        }
    }

    fn text(self) -> (&'static str, &'static str) {
        match self {
            Page::InvalidState => (
                "This sign-in link is no longer valid",
                "The sign-in did not start in this browser, was already used, or took too long. Start again.",
            ),
            Page::IdpError => ("Sign-in was not completed", "The identity provider did not sign you in."),
            Page::IdpUnreachable => {
                ("Sign-in is unavailable", "The identity provider cannot be reached right now. Try again in a minute.")
            }
            Page::LoginFailed => ("Sign-in failed", "The sign-in could not be completed. Start again."),
            Page::SessionExpired => ("Your session has expired", "Sign in again to continue."),
            Page::NotAllowed => (
                "You do not have access",
                "You signed in, but your account is not allowed here. Sign in with another account.",
            ),
            Page::StepUpNotMet => (
                "A stronger sign-in is needed",
                "This page needs a stronger or more recent sign-in than the identity provider gave. \
                 Try again, or ask your administrator which sign-in method this page needs.",
            ),
        }
    }

    /// The page. `detail` (already short; escaped here) is shown under the message, as
    /// the IdP's own `error` code, for instance. `restart` is where "Start again" leads.
    pub fn render(self, detail: Option<&str>, request_id: Option<&str>, restart: &str) -> LocalResponse {
        let (title, message) = self.text();
        let detail = detail.map(|d| format!("<p><code>{}</code></p>", escape(d))).unwrap_or_default();
        let rid = request_id
            .filter(|r| r.len() <= 128)
            .map(|r| format!("<p class=\"rid\">Request id: <code>{}</code></p>", escape(r)))
            .unwrap_or_default();
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
<meta name=\"viewport\" content=\"width=device-width\"><style>body{{font-family:system-ui,sans-serif;max-width:36rem;\
margin:4rem auto;padding:0 1rem;color:#222}}.rid{{color:#777;font-size:.85rem}}</style></head><body>\
<h1>{title}</h1><p>{message}</p>{detail}<p><a href=\"{}\">Start again</a></p>{rid}</body></html>",
            escape(restart)
        );
        LocalResponse::html(self.status(), body, PAGE_CSP)
    }
}

/// The 403 page for a signed-in person: who they are, and a way to sign out (and in as
/// someone else).
pub fn forbidden(who: &str, logout_path: &str, request_id: Option<&str>) -> LocalResponse {
    let who =
        if who.is_empty() { String::new() } else { format!("<p>You are signed in as <b>{}</b>.</p>", escape(who)) };
    let rid = request_id
        .filter(|r| r.len() <= 128)
        .map(|r| format!("<p class=\"rid\">Request id: <code>{}</code></p>", escape(r)))
        .unwrap_or_default();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>You do not have access</title>\
<meta name=\"viewport\" content=\"width=device-width\"><style>body{{font-family:system-ui,sans-serif;max-width:36rem;\
margin:4rem auto;padding:0 1rem;color:#222}}.rid{{color:#777;font-size:.85rem}}</style></head><body>\
<h1>You do not have access</h1>{who}<p>Your account is not allowed to see this page.</p>\
<form method=\"post\" action=\"{}\"><button type=\"submit\">Sign out</button></form>{rid}</body></html>",
        escape(logout_path)
    );
    LocalResponse::html(403, body, FORM_PAGE_CSP)
}

/// The "Sign out?" page: a button that posts the logout from this origin.
pub fn logout_confirmation(logout_path: &str) -> LocalResponse {
    let action = escape(logout_path);
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign out?</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}}</style></head>\
<body><h1>Sign out?</h1><p>Another site asked to sign you out.</p>\
<form method=\"post\" action=\"{action}\"><button type=\"submit\">Sign out</button></form></body></html>"
    );
    LocalResponse::html(200, body, FORM_PAGE_CSP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_show() {
        let r = Page::IdpError.render(Some("<script>alert(1)</script>"), Some("rid-1\"><x>"), "/");
        assert_eq!(r.status, 403);
        assert!(r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!r.body.contains("<script>"));
        assert!(r.body.contains("rid-1&quot;&gt;&lt;x&gt;"));
        assert!(r.body.contains("Sign-in was not completed"));
    }
}
