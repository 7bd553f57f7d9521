//! The OAuth client and how it authenticates at the token endpoint (RFC 6749 section
//! 2.3): one place for the code exchange and, later, refresh and introspection.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::core::config::secret::Secret;
use crate::core::web::form;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret (RFC 6749 section 2.3.1).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
    /// A public client: PKCE only, `client_id` in the body.
    None,
}

/// The configured client. `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: Option<String>,
    pub secret: Option<Secret>,
    pub auth: ClientAuth,
}

impl Client {
    /// Adds the client's credentials to a token-endpoint request: a header, or fields
    /// of the form body.
    pub fn authenticate<'a>(
        &'a self,
        fields: &mut Vec<(&'static str, &'a str)>,
        headers: &mut Vec<(&'static str, String)>,
    ) {
        let id = self.id.as_deref().unwrap_or("");
        let secret = self.secret.as_ref().map(|s| s.expose()).unwrap_or("");
        match self.auth {
            ClientAuth::Basic => {
                // RFC 6749 section 2.3.1: both parts form-encoded before base64.
                let pair = format!("{}:{}", form::encode(id), form::encode(secret));
                headers.push(("authorization", format!("Basic {}", STANDARD.encode(pair))));
            }
            ClientAuth::Post => {
                fields.push(("client_id", id));
                fields.push(("client_secret", secret));
            }
            ClientAuth::None => fields.push(("client_id", id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(auth: ClientAuth) -> Client {
        Client { id: Some("web app".into()), secret: Some(Secret::new("s:3".into())), auth }
    }

    #[test]
    fn each_method_puts_the_credentials_where_rfc_6749_says() {
        let (mut fields, mut headers) = (vec![], vec![]);
        let basic = client(ClientAuth::Basic);
        basic.authenticate(&mut fields, &mut headers);
        assert!(fields.is_empty());
        assert_eq!(headers, vec![("authorization", format!("Basic {}", STANDARD.encode("web%20app:s%3A3")))]);
        let (mut fields, mut headers) = (vec![], vec![]);
        let post = client(ClientAuth::Post);
        post.authenticate(&mut fields, &mut headers);
        assert_eq!(fields, vec![("client_id", "web app"), ("client_secret", "s:3")]);
        assert!(headers.is_empty());
        let (mut fields, mut headers) = (vec![], vec![]);
        let public = client(ClientAuth::None);
        public.authenticate(&mut fields, &mut headers);
        assert_eq!(fields, vec![("client_id", "web app")]);
        assert!(headers.is_empty());
    }
}
