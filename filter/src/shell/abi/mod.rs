//! The Proxy-Wasm ABI calls the shell makes, without panics. The SDK's `hostcalls`
//! wrappers panic on any status they do not expect (and `get_map_value` on any header
//! value that is not UTF-8), and a panic aborts the VM: every later request on that
//! worker would fail. These return the status instead. Callouts still go through the
//! SDK's `dispatch_http_call`, which registers them with its dispatcher.
//!
//! In Envoy the calls go to the host ([`wasm`]); natively, to an in-memory fake host
//! ([`fake`]) that the shell's scenario tests drive.

#[cfg(not(target_arch = "wasm32"))]
pub mod fake;
#[cfg(target_arch = "wasm32")]
mod wasm;

#[cfg(not(target_arch = "wasm32"))]
pub use fake::*;
#[cfg(target_arch = "wasm32")]
pub use wasm::*;

/// A host status other than Ok (the raw Proxy-Wasm status code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostError(pub u32);
