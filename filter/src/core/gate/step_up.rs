//! A verified caller whose authentication is not strong or recent enough for the route
//! (a rule's `acr_values`, `max_age`): a browser with a session signs in again at the IdP
//! (`prompt=login`, `acr_values`, `max_age`) and comes back to the page it asked for, the
//! callback checking that the new ID token meets the rule (else a page, never a loop);
//! API clients and bearer tokens get 401 `insufficient_user_authentication` (RFC 9470).

use super::unauthenticated::{client, Client};
use super::{Counter, Decision, Gate, Io, Level, LogLine, Request};
use crate::core::authz::StepUp;
use crate::core::login::Ask;
use crate::core::web::LocalResponse;

const DESCRIPTION: &str = "A stronger or more recent authentication is required";

impl Gate {
    /// `granted`: how the caller came in (a session, a bearer token) and the cookies its
    /// response must still carry (a renewed session's); `when`: now (seconds) and whether
    /// the request may wait.
    pub(super) fn step_up(
        &mut self,
        req: &mut Request<'_>,
        step: &StepUp,
        granted: (Counter, Vec<String>),
        when: (u64, bool),
        io: &mut Io<'_>,
    ) -> Decision {
        let config = self.config.clone();
        let (via, set_cookies) = granted;
        if let (Some(login), Counter::AllowedSession) = (&config.login, via) {
            if matches!(client(req, login), Client::Navigation) {
                let ask = Ask { step_up: Some(step), again: true };
                return match self.start_login(login, req, ask, when, io) {
                    Decision::Respond { response, counter, log } => {
                        let counter = if counter == Counter::LoginStarted { Counter::LoginStepUp } else { counter };
                        Decision::Respond { response: response.with_cookies(set_cookies), counter, log }
                    }
                    other => other,
                };
            }
        }
        (io.log)(LogLine {
            level: Level::Info,
            message: "denied: the route needs a stronger or more recent authentication (step-up)".into(),
        });
        let metadata = config.resource_metadata.as_ref().map(|m| format!(", resource_metadata=\"{}\"", m.url));
        let challenge = format!(
            "Bearer realm=\"{}\", error=\"insufficient_user_authentication\", error_description=\"{DESCRIPTION}\"{}{}",
            config.realm,
            step.challenge_params(),
            metadata.unwrap_or_default()
        );
        let response = LocalResponse::json_error(
            401,
            "insufficient_user_authentication",
            DESCRIPTION,
            vec![("www-authenticate", challenge)],
        );
        let response = response.with_cookies(set_cookies);
        Decision::Respond { response, counter: Counter::DeniedInsufficientUserAuthentication, log: None }
    }
}
