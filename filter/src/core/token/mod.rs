//! Tokens: JWT decoding and verification, JWKS parsing, the fast RSA public-key
//! operation, and the per-worker cache of verified credentials.

pub mod alg;
pub mod api_tokens;
pub mod cache;
pub mod error;
pub mod jwk;
pub mod jwt;
pub mod rsa_pub;

pub use alg::{Alg, AlgSet};
pub use api_tokens::ApiTokens;
pub use error::JwtError;
pub use jwk::KeySet;
pub use jwt::{decode, Expect, Jwt, Untrusted};

#[cfg(test)]
mod jwt_tests;
