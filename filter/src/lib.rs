//! oidc-gate: OpenID Connect login and token checks inside Envoy.
//!
//! `core` decides and never touches the host; `shell` (wasm only) talks to Envoy.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod core;

#[cfg(any(target_arch = "wasm32", test))]
mod shell;
