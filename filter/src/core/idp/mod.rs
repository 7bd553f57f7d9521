//! Talking to the identity provider: its metadata (discovery and keys, refreshed by a
//! state machine), the callouts that reach it through Envoy clusters, how the client
//! authenticates, and the token endpoint's requests and answers.

pub mod callout;
pub mod client;
pub mod graph;
pub mod introspection;
pub mod metadata;
pub mod provider;
pub mod token_endpoint;

pub use callout::{Callout, CalloutTarget, Clusters};
pub use client::{Client, ClientAuth};
pub use metadata::Metadata;
pub use provider::{FetchKind, IssuerConfig, Provider, Update};

/// An OAuth `error` code as the IdP sent it, safe to show and log: letters, digits, `_`
/// and `-`, at most 64.
pub fn error_code(text: &str) -> String {
    text.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').take(64).collect()
}

#[cfg(test)]
mod provider_tests;
