//! What a loaded configuration allows that is legal but likely not meant: said once in
//! Envoy's log at start (`on_configure`), never a refusal.

use super::Config;

/// One line for the log at start; `warn` is false for a note (a deliberate choice).
#[derive(Debug, PartialEq, Eq)]
pub struct Warning {
    pub warn: bool,
    pub text: String,
}

impl Config {
    /// Every warning about this configuration, in a fixed order.
    pub fn warnings(&self) -> Vec<Warning> {
        let mut out = Vec::new();
        let login_issuer = self.issuers.first().filter(|i| i.endpoints.is_none());
        // Without audiences the login issuer's tokens are refused: a surprise for an API
        // (a warning), a choice for a site with browser login (a note). GitHub issues none.
        if let Some(i) = login_issuer.filter(|i| i.audiences.is_empty()) {
            out.push(Warning {
                warn: self.login.is_none(),
                text: format!(
                    "bearer.audiences is not set: bearer tokens of {} are refused (name the audiences to accept them)",
                    i.issuer
                ),
            });
        }
        if let Some(i) = login_issuer.filter(|i| i.rule.templated() && i.rule.tenants.is_empty()) {
            out.push(Warning {
                warn: true,
                text: format!(
                    "issuer {} is multi-tenant ({{tenantid}}) and tenants is empty: it accepts no token (list the tenant ids to accept in tenants)",
                    i.issuer
                ),
            });
        }
        // The client's own ID tokens name `client_id` as their audience; one issued without
        // a nonce (a refresh, say) would then pass as an API credential.
        if let (Some(i), Some(client_id)) = (login_issuer, self.client.id.as_deref()) {
            if i.audiences.iter().any(|a| a == client_id) {
                out.push(Warning {
                    warn: true,
                    text: format!(
                        "bearer.audiences names the client_id {client_id:?}: the client's own ID tokens name it too, and one issued without a nonce (a refresh) would pass as a bearer token; give the API its own audience (another app registration, an API identifier)"
                    ),
                });
            }
        }
        if let Some(login) = self.login.as_ref().filter(|l| !l.session.cookies.session().starts_with("__Host-")) {
            out.push(Warning {
                warn: true,
                text: format!(
                    "session.cookie_name {:?} has no __Host- prefix: a sibling subdomain could set it",
                    login.session.cookies.session()
                ),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::core::testing::config;
    use serde_json::json;

    fn warnings(overrides: serde_json::Value) -> Vec<String> {
        config(overrides).warnings().into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn an_api_audience_equal_to_the_client_id_is_warned_about() {
        let w = warnings(json!({"bearer": {"audiences": ["web", "api://orders"]}}));
        assert!(w.iter().any(|t| t.starts_with("bearer.audiences names the client_id \"web\"")), "{w:?}");
        assert!(warnings(json!({})).is_empty(), "the base config (audience api) is fine");
    }

    #[test]
    fn an_api_without_audiences_is_warned_a_login_site_only_noted() {
        let c = config(json!({"bearer": {}}));
        assert_eq!(c.warnings().len(), 1);
        assert!(c.warnings()[0].warn && c.warnings()[0].text.starts_with("bearer.audiences is not set"));
    }
}
