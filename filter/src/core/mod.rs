//! The pure core: everything that decides, nothing that talks to Envoy. No module here
//! imports `proxy_wasm`; time and randomness come in as arguments (`now_ms` in
//! milliseconds, `now_s` in seconds, a [`rand::Random`]), so tests pin them.
//!
//! One folder per concern: `config` (parse, then compile), `web` (URLs, forms, cookies,
//! redirects, path rules, local responses and pages), `token` (JWT, JWK, RSA, the
//! verified-token cache), `idp` (provider metadata, client authentication, token-endpoint
//! calls), `session` (the sealed cookie), `login` (start, callback, logout), `identity`
//! (claims to headers), `authz` (who may pass), `shared` (what the workers of one Envoy share), and `gate` (the
//! request decision as a pipeline of steps).

pub mod assertion;
pub mod authz;
pub mod bytes;
pub mod config;
pub mod gate;
pub mod identity;
pub mod idp;
pub mod login;
pub mod rand;
pub mod session;
pub mod shared;
pub mod signing;
pub mod token;
pub mod web;

#[cfg(test)]
pub mod testing;

#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod robustness_tests;
