//! Browser login with the authorization code flow and PKCE (RFC 6749, RFC 7636, OpenID
//! Connect Core 1.0 section 3.1): [`start`] sends the browser to the IdP with a sealed
//! [`flow`] cookie; [`callback`] is the state machine from the browser's return to its
//! session cookie (the shell only carries its callouts); [`id_token`] validates what the
//! token endpoint and userinfo answer; [`logout`] ends the session.

pub mod backchannel;
pub mod callback;
pub mod error;
pub mod flow;
pub mod github;
pub mod id_token;
pub mod logout;
pub mod start;

pub use callback::{Callback, CallbackRequest, Step};
pub use error::LoginError;
pub use flow::Flow;
pub use start::{start, Ask, Start};

#[cfg(test)]
mod idp_tests;
#[cfg(test)]
mod tests;
