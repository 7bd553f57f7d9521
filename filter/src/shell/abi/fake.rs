//! An in-memory host for native tests of the shell: it holds the state a host would
//! (headers per context, local replies, callouts, metrics, logs, the clock) and lets a
//! test look at outcomes rather than at a scripted sequence of calls.

use proxy_wasm::types::{BufferType, LogLevel, MapType};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use super::HostError;

const BAD_ARGUMENT: u32 = 2;
const CAS_MISMATCH: u32 = 8;

#[derive(Default, Clone, Debug)]
pub struct LocalReply {
    pub status: u32,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl LocalReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug)]
pub struct Callout {
    pub token: u32,
    pub context: u32,
    pub cluster: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

#[derive(Default)]
pub struct FakeHost {
    pub now_ns: u64,
    /// The effective context (whose headers and replies the calls touch).
    pub current: u32,
    /// The context whose callback is running: the SDK routes a callout's answer to it,
    /// whatever the effective context was when the call was made.
    pub active: u32,
    pub plugin_config: Vec<u8>,
    pub request_headers: HashMap<u32, Vec<(String, Vec<u8>)>>,
    pub response_headers: HashMap<u32, Vec<(String, String)>>,
    pub replies: HashMap<u32, LocalReply>,
    pub resumed: Vec<u32>,
    pub callouts: Vec<Callout>,
    /// The answer being delivered to `on_http_call_response`.
    pub call_response: (Vec<(String, String)>, Vec<u8>),
    pub clusters: Vec<String>,
    pub metrics: Vec<(String, u64)>,
    pub logs: Vec<String>,
    /// Contexts that no longer exist (for `set_effective_context`).
    pub gone: Vec<u32>,
    /// Request bodies, per context.
    pub request_body: HashMap<u32, Vec<u8>>,
    /// Shared data: value and version.
    pub shared: HashMap<String, (Vec<u8>, u32)>,
    /// Every host call made, by name (a request's cost in calls into Envoy).
    pub calls: Vec<&'static str>,
}

thread_local! {
    pub static HOST: RefCell<FakeHost> = RefCell::new(FakeHost::default());
}

pub fn with<T>(f: impl FnOnce(&mut FakeHost) -> T) -> T {
    HOST.with(|h| f(&mut h.borrow_mut()))
}

pub fn log(level: LogLevel, message: &str) {
    with(|h| h.logs.push(format!("{level:?}: {message}")));
}

pub fn current_time_nanos() -> Result<u64, HostError> {
    with(|h| h.calls.push("current_time_nanos"));
    with(|h| Ok(h.now_ns))
}

pub fn set_tick_period_ms(_ms: u32) -> Result<(), HostError> {
    Ok(())
}

pub fn buffer(buffer_type: BufferType, start: usize, max: usize) -> Result<Vec<u8>, HostError> {
    with(|h| h.calls.push("buffer"));
    with(|h| {
        let all = match buffer_type {
            BufferType::PluginConfiguration => h.plugin_config.clone(),
            BufferType::HttpCallResponseBody => h.call_response.1.clone(),
            BufferType::HttpRequestBody => h.request_body.get(&h.current).cloned().unwrap_or_default(),
            _ => return Err(HostError(BAD_ARGUMENT)),
        };
        Ok(all.into_iter().skip(start).take(max).collect())
    })
}

pub fn header(map: MapType, name: &str) -> Result<Option<Vec<u8>>, HostError> {
    with(|h| h.calls.push("header"));
    with(|h| {
        let name = name.to_ascii_lowercase();
        Ok(match map {
            MapType::HttpRequestHeaders => h
                .request_headers
                .get(&h.current)
                .and_then(|m| m.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())),
            MapType::HttpResponseHeaders => h
                .response_headers
                .get(&h.current)
                .and_then(|m| m.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone().into_bytes())),
            MapType::HttpCallResponseHeaders => {
                h.call_response.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone().into_bytes())
            }
            _ => return Err(HostError(BAD_ARGUMENT)),
        })
    })
}

pub fn header_pairs(map: MapType) -> Result<Vec<u8>, HostError> {
    with(|h| h.calls.push("header_pairs"));
    with(|h| match map {
        MapType::HttpRequestHeaders => {
            Ok(super::serialize(h.request_headers.get(&h.current).map(Vec::as_slice).unwrap_or_default()))
        }
        _ => Err(HostError(BAD_ARGUMENT)),
    })
}

pub fn remove_header(map: MapType, name: &str) -> Result<(), HostError> {
    with(|h| h.calls.push("remove_header"));
    with(|h| {
        let ctx = h.current;
        match map {
            MapType::HttpRequestHeaders => h.request_headers.entry(ctx).or_default().retain(|(n, _)| *n != name),
            MapType::HttpResponseHeaders => h.response_headers.entry(ctx).or_default().retain(|(n, _)| *n != name),
            _ => return Err(HostError(BAD_ARGUMENT)),
        }
        Ok(())
    })
}

pub fn replace_header(map: MapType, name: &str, value: &str) -> Result<(), HostError> {
    remove_header(map, name)?;
    add_header(map, name, value)?;
    // One host call (proxy_replace_header_map_value), not the two it is modelled with.
    with(|h| {
        h.calls.truncate(h.calls.len() - 2);
        h.calls.push("replace_header");
    });
    Ok(())
}

pub fn add_header(map: MapType, name: &str, value: &str) -> Result<(), HostError> {
    with(|h| h.calls.push("add_header"));
    with(|h| {
        let ctx = h.current;
        match map {
            MapType::HttpRequestHeaders => {
                h.request_headers.entry(ctx).or_default().push((name.to_string(), value.as_bytes().to_vec()))
            }
            MapType::HttpResponseHeaders => {
                h.response_headers.entry(ctx).or_default().push((name.to_string(), value.to_string()))
            }
            _ => return Err(HostError(BAD_ARGUMENT)),
        }
        Ok(())
    })
}

pub fn send_local_response(status: u32, headers: &[(&str, &str)], body: &[u8]) -> Result<(), HostError> {
    with(|h| h.calls.push("send_local_response"));
    with(|h| {
        let reply = LocalReply {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: String::from_utf8_lossy(body).into_owned(),
        };
        if h.replies.insert(h.current, reply).is_some() {
            panic!("context {} answered twice", h.current);
        }
        Ok(())
    })
}

pub fn shared_get(key: &str) -> Result<Option<(Vec<u8>, u32)>, HostError> {
    with(|h| h.calls.push("shared_get"));
    with(|h| Ok(h.shared.get(key).cloned()))
}

pub fn shared_set(key: &str, value: &[u8], cas: u32) -> Result<(), HostError> {
    with(|h| h.calls.push("shared_set"));
    with(|h| {
        let entry = h.shared.entry(key.to_string()).or_insert((Vec::new(), 0));
        if cas != 0 && entry.1 != cas {
            return Err(HostError(CAS_MISMATCH));
        }
        *entry = (value.to_vec(), entry.1 + 1);
        Ok(())
    })
}

pub fn set_effective_context(id: u32) -> Result<(), HostError> {
    with(|h| {
        if h.gone.contains(&id) {
            return Err(HostError(BAD_ARGUMENT));
        }
        h.current = id;
        Ok(())
    })
}

pub fn resume_request() -> Result<(), HostError> {
    with(|h| {
        h.resumed.push(h.current);
        Ok(())
    })
}

pub fn reset_request() -> Result<(), HostError> {
    Ok(())
}

pub fn define_counter(name: &str) -> Result<u32, HostError> {
    with(|h| {
        h.metrics.push((name.to_string(), 0));
        Ok(h.metrics.len() as u32 - 1)
    })
}

pub fn increment(id: u32, by: u64) {
    with(|h| h.calls.push("increment"));
    with(|h| {
        if let Some(m) = h.metrics.get_mut(id as usize) {
            m.1 += by;
        }
    });
}

pub fn http_call(
    cluster: &str,
    headers: Vec<(&str, &str)>,
    body: Option<&[u8]>,
    _timeout: Duration,
) -> Result<u32, HostError> {
    with(|h| h.calls.push("http_call"));
    with(|h| {
        if !h.clusters.iter().any(|c| c == cluster) {
            return Err(HostError(BAD_ARGUMENT));
        }
        let token = h.callouts.len() as u32 + 100;
        h.callouts.push(Callout {
            token,
            context: h.active,
            cluster: cluster.to_string(),
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.map(<[u8]>::to_vec),
        });
        Ok(token)
    })
}

/// The SDK's own host calls, linked natively but never reached by these tests (the shell
/// goes through this module): each answers InternalFailure.
mod link_stubs {
    macro_rules! stubs {
        ($($name:ident),* $(,)?) => {$(
            #[no_mangle]
            pub extern "C" fn $name() -> u32 {
                10
            }
        )*};
    }
    stubs!(
        proxy_add_header_map_value,
        proxy_call_foreign_function,
        proxy_close_stream,
        proxy_continue_stream,
        proxy_define_metric,
        proxy_dequeue_shared_queue,
        proxy_done,
        proxy_enqueue_shared_queue,
        proxy_get_buffer_bytes,
        proxy_get_current_time_nanoseconds,
        proxy_get_header_map_pairs,
        proxy_get_header_map_value,
        proxy_get_log_level,
        proxy_get_metric,
        proxy_get_property,
        proxy_get_shared_data,
        proxy_get_status,
        proxy_grpc_call,
        proxy_grpc_cancel,
        proxy_grpc_close,
        proxy_grpc_send,
        proxy_grpc_stream,
        proxy_http_call,
        proxy_increment_metric,
        proxy_log,
        proxy_record_metric,
        proxy_register_shared_queue,
        proxy_remove_header_map_value,
        proxy_replace_header_map_value,
        proxy_resolve_shared_queue,
        proxy_send_local_response,
        proxy_set_buffer_bytes,
        proxy_set_effective_context,
        proxy_set_header_map_pairs,
        proxy_set_property,
        proxy_set_shared_data,
        proxy_set_tick_period_milliseconds,
    );
}
