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
pub mod rules;
pub mod secret;
pub mod url;

pub mod cache;
pub mod gate;
pub mod metrics;
pub mod provider;
pub mod response;
#[cfg(test)]
pub mod testkeys;
pub mod cookies;
pub mod form;
pub mod seal;
pub mod session;
pub mod pages;
pub mod redirect;
