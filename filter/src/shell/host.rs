//! Host calls without panics, and the metrics table.

use proxy_wasm::hostcalls;
use proxy_wasm::types::{LogLevel, MapType, MetricType};
use std::time::UNIX_EPOCH;

use crate::core::identity::HeaderMapping;
use crate::core::metrics::Counter;
use crate::core::response::LocalResponse;

pub fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

pub fn now_ms() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn request_header(name: &str) -> Option<String> {
    hostcalls::get_map_value(MapType::HttpRequestHeaders, name).ok().flatten()
}

pub fn remove_request_header(name: &str) {
    let _ = hostcalls::remove_map_value(MapType::HttpRequestHeaders, name);
}

/// Makes the configured identity headers exactly `headers`: each is set (replacing
/// whatever the client sent) or removed. Setting replaces in one host call, so the
/// usual case, where every mapped claim is present, costs one call per header.
pub fn set_identity_headers(mappings: &[HeaderMapping], headers: &[(String, String)]) {
    for m in mappings {
        match headers.iter().find(|(name, _)| *name == m.header) {
            Some((name, value)) => {
                let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value));
            }
            None => remove_request_header(&m.header),
        }
    }
}

pub fn send(response: &LocalResponse) {
    let headers: Vec<(&str, &str)> = response.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    if hostcalls::send_http_response(response.status, headers, Some(response.body.as_bytes())).is_err() {
        log(LogLevel::Error, "oidc-gate: could not send the local response; resetting the stream");
        let _ = hostcalls::reset_http_request();
    }
}

/// Metric ids, indexed by [`Counter::index`].
#[derive(Default)]
pub struct Metrics {
    ids: Vec<Option<u32>>,
}

impl Metrics {
    pub fn define() -> Metrics {
        let ids =
            Counter::all().into_iter().map(|c| hostcalls::define_metric(MetricType::Counter, &c.name()).ok()).collect();
        Metrics { ids }
    }

    pub fn inc(&self, counter: Counter) {
        if let Some(Some(id)) = self.ids.get(counter.index()) {
            let _ = hostcalls::increment_metric(*id, 1);
        }
    }
}
