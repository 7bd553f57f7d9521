//! The ABI calls against the real host (Envoy).

use proxy_wasm::types::{BufferType, LogLevel, MapType, MetricType, StreamType};
use std::ptr::{null, null_mut};
use std::time::Duration;

use super::HostError;

const OK: u32 = 0;
const NOT_FOUND: u32 = 1;

#[allow(clashing_extern_declarations)]
#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(map_type: u32, return_map_data: *mut *mut u8, return_map_size: *mut usize) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_replace_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_add_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    #[allow(clippy::too_many_arguments)]
    fn proxy_send_local_response(
        status_code: u32,
        status_code_details_data: *const u8,
        status_code_details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_set_effective_context(context_id: u32) -> u32;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
    fn proxy_continue_stream(stream_type: u32) -> u32;
    fn proxy_close_stream(stream_type: u32) -> u32;
    fn proxy_define_metric(metric_type: u32, name_data: *const u8, name_size: usize, return_id: *mut u32) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
}

fn check(status: u32) -> Result<(), HostError> {
    if status == OK {
        Ok(())
    } else {
        Err(HostError(status))
    }
}

/// Takes ownership of a buffer the host allocated through the SDK's
/// `proxy_on_memory_allocate` (a boxed slice of exactly `size` bytes).
///
/// # Safety
/// `data` must be null or such a buffer of `size` bytes.
unsafe fn take(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        Vec::new()
    } else {
        Vec::from_raw_parts(data, size, size)
    }
}

pub fn log(level: LogLevel, message: &str) {
    // SAFETY: pointer and length of a live string.
    unsafe {
        proxy_log(level as u32, message.as_ptr(), message.len());
    }
}

pub fn current_time_nanos() -> Result<u64, HostError> {
    let mut t = 0u64;
    // SAFETY: the host writes one u64.
    check(unsafe { proxy_get_current_time_nanoseconds(&mut t) })?;
    Ok(t)
}

pub fn set_tick_period_ms(ms: u32) -> Result<(), HostError> {
    // SAFETY: no pointers.
    check(unsafe { proxy_set_tick_period_milliseconds(ms) })
}

pub fn buffer(buffer_type: BufferType, start: usize, max: usize) -> Result<Vec<u8>, HostError> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: the host writes a buffer pointer and size, which `take` owns.
    let status = unsafe { proxy_get_buffer_bytes(buffer_type as u32, start, max, &mut data, &mut size) };
    match status {
        OK => Ok(unsafe { take(data, size) }),
        NOT_FOUND => Ok(Vec::new()),
        other => Err(HostError(other)),
    }
}

/// A header value as bytes; `Ok(None)` when absent.
pub fn header(map: MapType, name: &str) -> Result<Option<Vec<u8>>, HostError> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: the host writes a buffer pointer and size, which `take` owns.
    let status = unsafe { proxy_get_header_map_value(map as u32, name.as_ptr(), name.len(), &mut data, &mut size) };
    match status {
        OK => Ok(Some(unsafe { take(data, size) })),
        NOT_FOUND => Ok(None),
        other => Err(HostError(other)),
    }
}

/// Every header of a map in one host call, in the ABI's map encoding (read with
/// [`super::pairs_of`]); an absent map reads as empty.
pub fn header_pairs(map: MapType) -> Result<Vec<u8>, HostError> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: the host writes a buffer pointer and size, which `take` owns.
    let status = unsafe { proxy_get_header_map_pairs(map as u32, &mut data, &mut size) };
    match status {
        OK => Ok(unsafe { take(data, size) }),
        NOT_FOUND => Ok(Vec::new()),
        other => Err(HostError(other)),
    }
}

pub fn remove_header(map: MapType, name: &str) -> Result<(), HostError> {
    // SAFETY: pointer and length of a live string.
    check(unsafe { proxy_remove_header_map_value(map as u32, name.as_ptr(), name.len()) })
}

/// Sets `name` to `value`, replacing every value it had.
pub fn replace_header(map: MapType, name: &str, value: &str) -> Result<(), HostError> {
    // SAFETY: pointers and lengths of live strings.
    check(unsafe { proxy_replace_header_map_value(map as u32, name.as_ptr(), name.len(), value.as_ptr(), value.len()) })
}

pub fn add_header(map: MapType, name: &str, value: &str) -> Result<(), HostError> {
    // SAFETY: pointers and lengths of live strings.
    check(unsafe { proxy_add_header_map_value(map as u32, name.as_ptr(), name.len(), value.as_ptr(), value.len()) })
}

pub fn send_local_response(status: u32, headers: &[(&str, &str)], body: &[u8]) -> Result<(), HostError> {
    let h = super::serialize(headers);
    // SAFETY: pointers and lengths of live buffers; no details string.
    check(unsafe { proxy_send_local_response(status, null(), 0, body.as_ptr(), body.len(), h.as_ptr(), h.len(), -1) })
}

/// A shared-data value and its version; `Ok(None)` when the key was never set.
pub fn shared_get(key: &str) -> Result<Option<(Vec<u8>, u32)>, HostError> {
    let (mut data, mut size, mut cas) = (null_mut(), 0usize, 0u32);
    // SAFETY: the host writes a buffer pointer and size, which `take` owns, and a u32.
    let status = unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) };
    match status {
        OK => Ok(Some((unsafe { take(data, size) }, cas))),
        NOT_FOUND => Ok(None),
        other => Err(HostError(other)),
    }
}

/// Sets a shared-data value if its version is still `cas` (0: unconditionally).
pub fn shared_set(key: &str, value: &[u8], cas: u32) -> Result<(), HostError> {
    // SAFETY: pointers and lengths of live buffers.
    check(unsafe { proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas) })
}

pub fn set_effective_context(id: u32) -> Result<(), HostError> {
    // SAFETY: no pointers.
    check(unsafe { proxy_set_effective_context(id) })
}

pub fn resume_request() -> Result<(), HostError> {
    // SAFETY: no pointers.
    check(unsafe { proxy_continue_stream(StreamType::HttpRequest as u32) })
}

pub fn reset_request() -> Result<(), HostError> {
    // SAFETY: no pointers.
    check(unsafe { proxy_close_stream(StreamType::HttpRequest as u32) })
}

pub fn define_counter(name: &str) -> Result<u32, HostError> {
    let mut id = 0u32;
    // SAFETY: pointer and length of a live string; the host writes one u32.
    check(unsafe { proxy_define_metric(MetricType::Counter as u32, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

/// Starts a callout through the SDK, whose dispatcher must know the token to route the
/// answer to the calling context.
pub fn http_call(
    cluster: &str,
    headers: Vec<(&str, &str)>,
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<u32, HostError> {
    proxy_wasm::hostcalls::dispatch_http_call(cluster, headers, body, vec![], timeout).map_err(|s| HostError(s as u32))
}

pub fn increment(id: u32, by: u64) {
    // SAFETY: no pointers.
    unsafe {
        proxy_increment_metric(id, i64::try_from(by).unwrap_or(i64::MAX));
    }
}
