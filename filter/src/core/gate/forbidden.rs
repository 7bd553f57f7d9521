//! A verified caller who may not pass: 403, in the shape its client reads (RFC 6750
//! `insufficient_scope` for a bearer token lacking a scope, a page for a browser, JSON for
//! API clients; Envoy turns a gRPC call's 403 into grpc-status 7, PERMISSION_DENIED).

use serde_json::Value;

use super::unauthenticated::{client, Client};
use super::{Counter, Decision, Gate, Io, Level, LogLine, Request};
use crate::core::authz::Refusal;
use crate::core::identity::Identity;
use crate::core::web::{pages, LocalResponse};

impl Gate {
    pub(super) fn forbidden(
        &self,
        req: &mut Request<'_>,
        identity: &Identity,
        refusal: Refusal,
        via: Counter,
        io: &mut Io<'_>,
    ) -> Decision {
        let realm = &self.config.realm;
        let (response, counter, reason) = match refusal {
            Refusal::InsufficientScope { scopes } => {
                let scope = scopes.join(" ");
                let challenge = format!(
                    "Bearer realm=\"{realm}\", error=\"insufficient_scope\", error_description=\"The access token lacks the scope this needs\", scope=\"{scope}\""
                );
                let response = LocalResponse::json_error(
                    403,
                    "insufficient_scope",
                    "The access token lacks the scope this needs",
                    vec![("www-authenticate", challenge)],
                );
                (response, Counter::DeniedInsufficientScope, format!("needs one of the scopes {scope}"))
            }
            Refusal::Forbidden { reason } => {
                let page = match (&self.config.login, via) {
                    (Some(login), Counter::AllowedSession) => match client(req, login) {
                        Client::Navigation | Client::BrowserForm => Some(login.logout_path.clone()),
                        Client::Api => None,
                    },
                    _ => None,
                };
                let response = match page {
                    Some(logout_path) => {
                        let who = ["email", "preferred_username", "sub"]
                            .iter()
                            .find_map(|c| identity.claims.get(*c).and_then(Value::as_str))
                            .unwrap_or("");
                        pages::forbidden(who, &logout_path, req.header("x-request-id").as_deref())
                    }
                    None => {
                        LocalResponse::json_error(403, "forbidden", "Access to this resource is not allowed", vec![])
                    }
                };
                (response, Counter::DeniedForbidden, reason)
            }
        };
        (io.log)(LogLine { level: Level::Info, message: format!("denied: {reason}") });
        Decision::Respond { response, counter, log: None }
    }
}
