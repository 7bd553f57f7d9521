//! The pure core: everything that decides, nothing that talks to Envoy.
//! No module here imports `proxy_wasm`; time and randomness come in as arguments.

pub mod config;
pub mod duration;
pub mod identity;
pub mod jwk;
pub mod jwt;
pub mod login;
pub mod login_config;
pub mod logout;
pub mod rsa_pub;
pub mod rules;
pub mod secret;
pub mod url;

pub mod cache;
pub mod cookies;
pub mod form;
pub mod gate;
pub mod metrics;
pub mod pages;
pub mod provider;
pub mod redirect;
pub mod response;
pub mod seal;
pub mod session;
#[cfg(test)]
pub mod testkeys;

#[cfg(test)]
mod robustness_tests;
