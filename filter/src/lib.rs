//! oidc-gate: OpenID Connect login and token checks inside Envoy.
//!
//! `core` decides and never touches the host; `shell` (wasm only) talks to Envoy.

pub mod core;

#[cfg(target_arch = "wasm32")]
mod shell;
