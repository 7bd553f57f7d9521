//! The OAuth client and how it authenticates at the token endpoint (RFC 6749 section
//! 2.3, and RFC 7523 section 2.2 for `private_key_jwt`): one place for the code exchange,
//! refresh and introspection.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::rc::Rc;

use crate::core::config::defaults::CLIENT_ASSERTION_LIFETIME;
use crate::core::config::secret::Secret;
use crate::core::rand::{random_token, Random};
use crate::core::signing::{SignError, SigningKey};
use crate::core::web::form;

/// RFC 7523 section 2.2: the `client_assertion_type` of a JWT client assertion.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret (RFC 6749 section 2.3.1).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
    /// A public client: PKCE only, `client_id` in the body.
    None,
    /// A JWT signed with the client's private key (`client_key`), no secret (RFC 7523,
    /// OpenID Connect Core section 9).
    PrivateKeyJwt,
}

/// The configured client. `Debug` shows no secret and no key.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: Option<String>,
    pub secret: Option<Secret>,
    pub auth: ClientAuth,
    /// `client_key`, for `private_key_jwt`.
    pub key: Option<Rc<SigningKey>>,
}

/// What a client assertion is signed with: the time and the randomness (its `jti`, and
/// the blinding of an RSA signature).
pub struct Signer<'r> {
    pub now_s: u64,
    pub rng: &'r mut dyn Random,
}

impl Client {
    /// For `private_key_jwt`: a client assertion for a request to `audience` (the token
    /// endpoint's URL), fresh each time: `iss` and `sub` the client, a new `jti`, valid
    /// for a minute. `None` for the other methods.
    pub fn assertion(&self, audience: &str, signer: Signer<'_>) -> Result<Option<String>, SignError> {
        let (ClientAuth::PrivateKeyJwt, Some(key)) = (self.auth, &self.key) else { return Ok(None) };
        let id = self.id.as_deref().unwrap_or("");
        let claims = serde_json::json!({
            "iss": id,
            "sub": id,
            "aud": audience,
            "jti": random_token(signer.rng, 16),
            "iat": signer.now_s,
            "exp": signer.now_s.saturating_add(CLIENT_ASSERTION_LIFETIME.as_secs()),
        });
        key.sign(&claims.to_string(), signer.rng).map(Some)
    }

    /// Adds the client's credentials to a token-endpoint request: a header, or fields
    /// of the form body. `assertion` is what [`Client::assertion`] made for it.
    pub fn authenticate<'a>(
        &'a self,
        assertion: Option<&'a str>,
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
            ClientAuth::PrivateKeyJwt => {
                fields.push(("client_id", id));
                fields.push(("client_assertion_type", JWT_BEARER));
                fields.push(("client_assertion", assertion.unwrap_or("")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(auth: ClientAuth) -> Client {
        Client { id: Some("web app".into()), secret: Some(Secret::new("s:3".into())), auth, key: None }
    }

    #[test]
    fn each_method_puts_the_credentials_where_rfc_6749_says() {
        let (mut fields, mut headers) = (vec![], vec![]);
        let basic = client(ClientAuth::Basic);
        basic.authenticate(None, &mut fields, &mut headers);
        assert!(fields.is_empty());
        assert_eq!(headers, vec![("authorization", format!("Basic {}", STANDARD.encode("web%20app:s%3A3")))]);
        let (mut fields, mut headers) = (vec![], vec![]);
        let post = client(ClientAuth::Post);
        post.authenticate(None, &mut fields, &mut headers);
        assert_eq!(fields, vec![("client_id", "web app"), ("client_secret", "s:3")]);
        assert!(headers.is_empty());
        let (mut fields, mut headers) = (vec![], vec![]);
        let public = client(ClientAuth::None);
        public.authenticate(None, &mut fields, &mut headers);
        assert_eq!(fields, vec![("client_id", "web app")]);
        assert!(headers.is_empty());
    }

    #[test]
    fn private_key_jwt_sends_a_fresh_signed_assertion_and_no_secret() {
        use crate::core::testing::FixedRng;
        use crate::core::token::{decode, AlgSet, KeySet};
        let pem = include_str!("../../../testdata/ec-p256.pem");
        let key = Rc::new(SigningKey::parse(pem, true).unwrap());
        let c =
            Client { id: Some("web".into()), secret: None, auth: ClientAuth::PrivateKeyJwt, key: Some(key.clone()) };
        let mut rng = FixedRng(0);
        let aud = "https://idp.example.com/token";
        let one = c.assertion(aud, Signer { now_s: 1000, rng: &mut rng }).unwrap().unwrap();
        let two = c.assertion(aud, Signer { now_s: 1000, rng: &mut rng }).unwrap().unwrap();
        let keys = KeySet::parse(crate::core::signing::jwks(std::slice::from_ref(&*key)).as_bytes()).unwrap();
        let claims = |jwt: &str| decode(jwt, AlgSet::all()).unwrap().verify(&keys).unwrap().claims().clone();
        let (first, second) = (claims(&one), claims(&two));
        assert_eq!(first["iss"], "web");
        assert_eq!(first["sub"], "web");
        assert_eq!(first["aud"], aud);
        assert_eq!((first["iat"].as_u64(), first["exp"].as_u64()), (Some(1000), Some(1060)));
        assert_ne!(first["jti"], second["jti"], "a fresh jti each time");
        assert_eq!(first["jti"].as_str().map(str::len), Some(22));
        let (mut fields, mut headers) = (vec![], vec![]);
        c.authenticate(Some(&one), &mut fields, &mut headers);
        assert_eq!(
            fields,
            vec![("client_id", "web"), ("client_assertion_type", JWT_BEARER), ("client_assertion", one.as_str())]
        );
        assert!(headers.is_empty(), "no Basic header, no secret");
        let basic = client(ClientAuth::Basic);
        assert_eq!(basic.assertion(aud, Signer { now_s: 1000, rng: &mut rng }), Ok(None));
    }
}
