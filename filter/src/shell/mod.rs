//! The thin wasm shell: moves bytes between Envoy and the core. Every host call goes
//! through `abi`, which returns host errors instead of panicking (a panic aborts the
//! whole VM). Natively, `abi` is an in-memory fake host, and `tests` drives the contexts
//! against it.

mod abi;
mod carry;
mod host;
mod http;
mod paused;
mod root;
#[cfg(feature = "step-probe")]
mod step_probe;

#[cfg(target_arch = "wasm32")]
use proxy_wasm::types::LogLevel;

#[cfg(target_arch = "wasm32")]
proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    std::panic::set_hook(Box::new(|info| {
        host::log(LogLevel::Critical, &format!("oidc-gate: panic: {info}"));
    }));
    proxy_wasm::set_root_context(|_| Box::new(root::Root::default()));
}}

#[cfg(test)]
mod backchannel_tests;
#[cfg(test)]
mod bounds_tests;
#[cfg(test)]
mod metrics_tests;
#[cfg(test)]
mod tests;
