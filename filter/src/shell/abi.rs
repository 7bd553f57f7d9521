//! The Proxy-Wasm ABI calls the shell makes, without panics. The SDK's `hostcalls`
//! wrappers panic on any status they do not expect (and `get_map_value` on any header
//! value that is not UTF-8), and a panic aborts the VM: every later request on that
//! worker would fail. These return the status instead. Callouts still go through the
//! SDK's `dispatch_http_call`, which registers them with its dispatcher.

#[cfg(target_arch = "wasm32")]
#[path = "abi_wasm.rs"]
mod imp;
#[cfg(not(target_arch = "wasm32"))]
#[path = "abi_fake.rs"]
pub mod imp;

pub use imp::*;

/// A host status other than Ok (the raw Proxy-Wasm status code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostError(pub u32);
