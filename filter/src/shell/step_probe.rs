//! Profiling builds only, never a release: with one of the `step-*` features the request's
//! work stops after that step, so that `scripts/envoy-profile --steps` can measure inside
//! Envoy what each step of a request adds (Envoy's V8 has no profiler of its own).
//!
//! - `step-return`: nothing; the request goes on at once (what merely having the module costs);
//! - `step-read`: the request's header map read (one host call);
//! - `step-clock`: and the clock read (one more);
//! - `step-write`: and one request header written, as an identity header is, with no decision;
//! - `step-decide`: the header map, the clock and the whole decision; a request allowed goes
//!   on without it being carried out (no identity header written; in `http.rs`).
//!
//! Without a `step-*` feature (each turns on `step-probe`) none of this is compiled.

use proxy_wasm::types::{Action, MapType};

use super::abi;
use super::host;

/// Logged at every configuration: such a module checks nothing, or checks and then lets the
/// request go on anyway, and must never serve traffic.
pub const WARNING: &str =
    "oidc-gate: a profiling build (cargo feature step-*): requests are NOT checked; never use it to serve traffic";

/// What the request does under the step this module was built for; `None` for `step-decide`
/// (the decision is taken, then the request goes on: see `http.rs`).
pub fn early() -> Option<Action> {
    if cfg!(feature = "step-return") {
        return Some(Action::Continue);
    }
    if cfg!(any(feature = "step-read", feature = "step-clock", feature = "step-write")) {
        let _ = abi::header_pairs(MapType::HttpRequestHeaders);
    }
    if cfg!(any(feature = "step-clock", feature = "step-write")) {
        let _ = host::now_ms();
    }
    if cfg!(feature = "step-write") {
        let _ = abi::replace_header(MapType::HttpRequestHeaders, "x-user-id", "step-probe");
    }
    if cfg!(feature = "step-decide") {
        return None;
    }
    Some(Action::Continue)
}
