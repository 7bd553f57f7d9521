//! The floor of any proxy-wasm filter in the benchmark (`scripts/bench`): per request it reads
//! the two headers an auth filter must read (`authorization`, `cookie`) and adds one header
//! (and one to the response, by which the benchmark sees it ran).
//! Whatever oidc-gate costs beyond this is its own work.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(Noop) });
}}

struct Noop;

impl Context for Noop {}

impl HttpContext for Noop {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        let seen = self.get_http_request_header_bytes("authorization").map_or(0, |v| v.len())
            + self.get_http_request_header_bytes("cookie").map_or(0, |v| v.len());
        self.set_http_request_header("x-noop", Some(if seen > 0 { "1" } else { "0" }));
        Action::Continue
    }

    /// Marks the response, so that the benchmark can see the filter ran.
    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        self.set_http_response_header("x-noop", Some("1"));
        Action::Continue
    }
}
