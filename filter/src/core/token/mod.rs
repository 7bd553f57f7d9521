//! Tokens: JWT decoding and verification, JWKS parsing, the fast RSA public-key
//! operation, and the per-worker cache of verified credentials.

pub mod alg;
pub mod algs;
pub mod api_tokens;
pub mod cache;
pub mod ecdsa;
pub mod error;
pub mod issuer;
pub mod jwk;
pub mod jwt;
pub mod kind;
mod limbs;
pub mod rsa_pub;

pub use alg::{Alg, AlgSet};
pub use api_tokens::ApiTokens;
pub use error::JwtError;
pub use issuer::IssuerRule;
pub use jwk::KeySet;
pub use jwt::{decode, Expect, Jwt, Untrusted};

/// RFC 6750 `b64token` syntax, at most 16 KB: nothing else goes into an `Authorization`
/// header the filter sends (a userinfo call, a forwarded access token).
pub fn b64token(t: &str) -> bool {
    !t.is_empty() && t.len() <= 16 * 1024 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
}

#[cfg(test)]
mod jwt_tests;
