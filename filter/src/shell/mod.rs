//! The thin wasm shell: moves bytes between Envoy and the core. Every host call goes
//! through `proxy_wasm::hostcalls` with its error handled (the SDK's trait helpers
//! panic on host errors, and a panic aborts the whole VM).

mod abi;
mod host;
mod http;
mod login_flow;
mod root;

use proxy_wasm::types::LogLevel;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    std::panic::set_hook(Box::new(|info| {
        host::log(LogLevel::Critical, &format!("oidc-gate: panic: {info}"));
    }));
    proxy_wasm::set_root_context(|_| Box::new(root::Root::default()));
}}
