//! Host calls without panics, request headers and randomness for the core, and the
//! metrics table.

use proxy_wasm::types::{BufferType, LogLevel, MapType};
use std::time::Duration;

use super::abi;

use crate::core::gate::{CookieRewrite, Counter, Level, RequestHeaders};
use crate::core::identity::{other_spellings, Authorization, Identity};
use crate::core::idp::Callout;
use crate::core::rand::Random;
use crate::core::shared::{LocalStore, SharedStore};
use crate::core::web::LocalResponse;

/// Responses larger than this from the IdP are refused.
pub const MAX_CALLOUT_BODY: usize = 1024 * 1024;

pub fn log(level: LogLevel, message: &str) {
    abi::log(level, message);
}

/// A core log line, at its level.
pub fn log_at(level: Level, message: &str) {
    let level = match level {
        Level::Info => LogLevel::Info,
        Level::Warn => LogLevel::Warn,
    };
    abi::log(level, message);
}

pub fn now_ms() -> u64 {
    // 0 when the host has no clock: the core then refuses the request.
    abi::current_time_nanos().map_or(0, |ns| ns / 1_000_000)
}

/// A header value as text. Read as bytes: the SDK's `get_map_value` panics (aborting the
/// VM) on a value that is not UTF-8, which any client can send. Such values are read with
/// replacement characters, so they fail every check; a non-UTF-8 `:path` reads as absent,
/// so no path rule can match it.
fn text(name: &str, bytes: Vec<u8>) -> Option<String> {
    if crate::core::bytes::is_ascii(&bytes) {
        // SAFETY: every byte is below 0x80, and ASCII is UTF-8.
        return Some(unsafe { String::from_utf8_unchecked(bytes) });
    }
    match String::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(_) if name == ":path" => None,
        Err(e) => Some(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

pub fn remove_request_header(name: &str) {
    let _ = abi::remove_header(MapType::HttpRequestHeaders, name);
}

/// The current request's headers, read from the host in one call when first asked for
/// (the core's reads, and the names checked for spoofed identity headers, all come from
/// that one copy). Valid until the filter changes the request's headers: a value is made
/// per request and dropped once its decision is carried out.
pub struct HostHeaders {
    /// `false` when the request ended with its headers (known only when they arrive; a
    /// request decided again later says `true`).
    pub body_follows: bool,
    /// The map in the ABI's encoding; `Err` when the host would not give it.
    map: Option<Result<Vec<u8>, abi::HostError>>,
}

impl HostHeaders {
    pub fn new(body_follows: bool) -> HostHeaders {
        HostHeaders { body_follows, map: None }
    }

    /// For a request decided again after its headers: whether a body follows is not known.
    pub fn later() -> HostHeaders {
        HostHeaders::new(true)
    }

    fn map(&mut self) -> Result<&[u8], abi::HostError> {
        let map = self.map.get_or_insert_with(|| abi::header_pairs(MapType::HttpRequestHeaders));
        map.as_deref().map_err(|e| *e)
    }

    /// Every value of `name`, joined by `,` (as Envoy joins a repeated header it knows: a
    /// credential sent twice reads as one malformed value, never as the first of two).
    /// `Cookie` lines are joined by `; `, as HTTP/2 joins its cookie fields and as apps
    /// read several `Cookie` lines (Envoy keeps each HTTP/1 line): a session cookie on a
    /// second line is seen, and stripped, never passed upstream behind a `,`.
    fn value(&mut self, name: &str) -> Option<Vec<u8>> {
        let map = match self.map() {
            Ok(map) => map,
            // Without the map, the host's own single read.
            Err(_) => return abi::header(MapType::HttpRequestHeaders, name).ok().flatten(),
        };
        let mut out: Option<Vec<u8>> = None;
        for (_, v) in abi::pairs_of(map).filter(|(n, _)| *n == name.as_bytes()) {
            match out.as_mut() {
                None => out = Some(v.to_vec()),
                Some(o) => {
                    o.extend_from_slice(if name == "cookie" { b"; " } else { b"," });
                    o.extend_from_slice(v);
                }
            }
        }
        out
    }

    /// Whether the request has a header of exactly this name.
    fn has(&mut self, name: &str) -> Result<bool, abi::HostError> {
        Ok(abi::pairs_of(self.map()?).any(|(n, _)| n == name.as_bytes()))
    }

    /// The names of the request's headers that spell one of `all_headers` differently.
    fn spoofed(&mut self, all_headers: &[String]) -> Result<Vec<String>, abi::HostError> {
        let map = self.map()?;
        let names = abi::pairs_of(map).filter_map(|(n, _)| std::str::from_utf8(n).ok());
        Ok(other_spellings(all_headers, names).into_iter().map(str::to_string).collect())
    }
}

impl RequestHeaders for HostHeaders {
    fn get(&mut self, name: &str) -> Option<String> {
        text(name, self.value(name)?)
    }

    fn body_follows(&self) -> bool {
        self.body_follows
    }
}

/// WASI `random_get`. A failure is remembered: whatever used the bytes is refused.
#[derive(Default)]
pub struct HostRandom {
    pub failed: bool,
}

impl Random for HostRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        if getrandom::getrandom(buf).is_err() {
            self.failed = true;
        }
    }
}

/// The host's shared data (every worker of this Envoy sees it). Should the host refuse it
/// (anything but a version mismatch), the worker's own store takes over: the worker then
/// works alone, which is correct, only not deduplicated across workers.
pub struct HostStore<'w> {
    pub local: &'w mut LocalStore,
    pub broken: &'w mut bool,
}

const CAS_MISMATCH: u32 = 8;

impl HostStore<'_> {
    fn give_up(&mut self, e: abi::HostError) {
        if !*self.broken {
            log(LogLevel::Warn, &format!("oidc-gate: shared data unavailable ({e:?}); each worker works alone"));
            *self.broken = true;
        }
    }
}

impl SharedStore for HostStore<'_> {
    fn get(&mut self, key: &str) -> Option<(Vec<u8>, u32)> {
        if *self.broken {
            return self.local.get(key);
        }
        match abi::shared_get(key) {
            Ok(v) => v,
            Err(e) => {
                self.give_up(e);
                self.local.get(key)
            }
        }
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> bool {
        if *self.broken {
            return self.local.set(key, value, cas);
        }
        match abi::shared_set(key, value, cas) {
            Ok(()) => true,
            Err(abi::HostError(CAS_MISMATCH)) => false,
            Err(e) => {
                self.give_up(e);
                self.local.set(key, value, cas)
            }
        }
    }
}

/// Makes the configured identity headers exactly the identity's: first every other
/// spelling of them the client sent (`x_user_email`) is removed, then each is set
/// (replacing whatever the client sent) or removed. Setting replaces in one host call.
/// If the header names cannot be read, the request is refused rather than let through
/// with a spelling that might pass.
/// `assertion` is the signed identity assertion's header and value, one of `all_headers`.
/// `headers`: the request's headers as read for its decision (nothing changed them since).
pub fn set_identity_headers(
    headers: &mut HostHeaders,
    all_headers: &[String],
    identity: &Identity,
    assertion: Option<(&str, &str)>,
) -> Result<(), abi::HostError> {
    // Only the names to remove are copied out of the map (usually none).
    let spoofed = headers.spoofed(all_headers)?;
    for name in &spoofed {
        abi::remove_header(MapType::HttpRequestHeaders, name)?;
    }
    for header in all_headers {
        let value = match identity.headers.iter().find(|(name, _)| name == header) {
            Some((_, value)) => Some(value.as_str()),
            None => assertion.filter(|(name, _)| name == header).map(|(_, value)| value),
        };
        match value {
            Some(value) => abi::replace_header(MapType::HttpRequestHeaders, header, value)?,
            // Removed only when the request has it: the map is this request's, as it is now.
            None if headers.has(header)? => abi::remove_header(MapType::HttpRequestHeaders, header)?,
            None => {}
        }
    }
    match &identity.authorization {
        Authorization::Keep => {}
        Authorization::Bearer(value) => abi::replace_header(MapType::HttpRequestHeaders, "authorization", value)?,
        Authorization::Remove => abi::remove_header(MapType::HttpRequestHeaders, "authorization")?,
    }
    Ok(())
}

/// A request whose headers go on before the filter has decided (a back-channel logout,
/// answered at its body's end): no identity header in any spelling, no `Cookie`, no
/// `Authorization` reaches the upstream. Should the names not be readable, the request
/// is reset.
pub fn strip_for_body(all_headers: &[String]) {
    if set_identity_headers(&mut HostHeaders::later(), all_headers, &Identity::default(), None).is_err() {
        let _ = abi::reset_request();
    }
    remove_request_header("cookie");
    remove_request_header("authorization");
}

pub fn rewrite_cookie(rewrite: &CookieRewrite) {
    match rewrite {
        CookieRewrite::Keep => {}
        CookieRewrite::Set(v) => {
            let _ = abi::replace_header(MapType::HttpRequestHeaders, "cookie", v);
        }
        CookieRewrite::Remove => remove_request_header("cookie"),
    }
}

pub fn add_response_headers(name: &str, values: &[String]) {
    for v in values {
        let _ = abi::add_header(MapType::HttpResponseHeaders, name, v);
    }
}

pub fn set_response_header(name: &str, value: &str) {
    let _ = abi::replace_header(MapType::HttpResponseHeaders, name, value);
}

pub fn send(response: &LocalResponse) {
    let headers: Vec<(&str, &str)> = response.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    if let Err(e) = abi::send_local_response(response.status, &headers, response.body.as_bytes()) {
        log(LogLevel::Error, &format!("oidc-gate: could not send the local response ({e:?}); resetting the stream"));
        let _ = abi::reset_request();
    }
}

/// A callout the host refused to start (most often: no such cluster).
#[derive(Debug)]
pub struct DispatchError {
    pub cluster: String,
    pub status: abi::HostError,
}

impl std::fmt::Display for DispatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot call cluster {:?} ({:?}); is it defined?", self.cluster, self.status)
    }
}

/// Starts a callout; the answer comes to the calling context's `on_http_call_response`.
pub fn dispatch(callout: &Callout, timeout: Duration) -> Result<u32, DispatchError> {
    let mut headers: Vec<(&str, &str)> = vec![
        (":method", callout.method),
        (":path", callout.target.path.as_str()),
        (":authority", callout.target.authority.as_str()),
        ("user-agent", "oidc-gate"),
    ];
    headers.extend(callout.headers.iter().map(|(n, v)| (*n, v.as_str())));
    abi::http_call(&callout.target.cluster, headers, callout.body.as_deref().map(str::as_bytes), timeout)
        .map_err(|status| DispatchError { cluster: callout.target.cluster.clone(), status })
}

/// The status and body of the callout response being delivered (`None` status: no response).
pub fn callout_response(body_size: usize) -> (Option<u16>, Vec<u8>) {
    let status = abi::header(MapType::HttpCallResponseHeaders, ":status")
        .ok()
        .flatten()
        .and_then(|s| std::str::from_utf8(&s).ok()?.parse::<u16>().ok());
    if body_size > MAX_CALLOUT_BODY {
        return (Some(413), Vec::new());
    }
    let body = abi::buffer(BufferType::HttpCallResponseBody, 0, body_size).unwrap_or_default();
    (status, body)
}

/// The worker's counters: counted in the worker's memory, handed to Envoy by [`flush`]
/// (on the root's tick, every 200 ms), so a request costs no host call for them.
///
/// [`flush`]: Metrics::flush
#[derive(Default)]
pub struct Metrics {
    /// Metric ids, indexed by [`Counter::index`].
    ids: Vec<Option<u32>>,
    /// Counts not yet handed to Envoy, indexed the same way.
    pending: std::cell::RefCell<Vec<u64>>,
}

impl Metrics {
    pub fn define() -> Metrics {
        let ids: Vec<Option<u32>> = Counter::all().into_iter().map(|c| abi::define_counter(&c.name()).ok()).collect();
        let pending = std::cell::RefCell::new(vec![0; ids.len()]);
        Metrics { ids, pending }
    }

    /// Whether Envoy gave ids for the counters (a table made by [`Metrics::define`]).
    pub fn is_defined(&self) -> bool {
        self.ids.iter().any(Option::is_some)
    }

    pub fn inc(&self, counter: Counter) {
        if let Ok(mut pending) = self.pending.try_borrow_mut() {
            if let Some(n) = pending.get_mut(counter.index()) {
                *n = n.saturating_add(1);
            }
        }
    }

    /// Hands the counts made since the last flush to Envoy: one host call per counter
    /// that moved.
    pub fn flush(&self) {
        let Ok(mut pending) = self.pending.try_borrow_mut() else { return };
        for (n, id) in pending.iter_mut().zip(&self.ids) {
            if let (true, Some(id)) = (*n > 0, id) {
                abi::increment(*id, *n);
            }
            *n = 0;
        }
    }
}
