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

/// Pairs in the ABI's map encoding: count, (name size, value size) each, then the bytes,
/// each followed by a NUL.
pub fn serialize<N: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(N, V)]) -> Vec<u8> {
    let size = |(n, v): &(N, V)| n.as_ref().len() + v.as_ref().len() + 10;
    let mut out = Vec::with_capacity(4 + pairs.iter().map(size).sum::<usize>());
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (n, v) in pairs {
        out.extend_from_slice(&(n.as_ref().len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.as_ref().len() as u32).to_le_bytes());
    }
    for (n, v) in pairs {
        out.extend_from_slice(n.as_ref());
        out.push(0);
        out.extend_from_slice(v.as_ref());
        out.push(0);
    }
    out
}

/// The (name, value) pairs in the ABI's map encoding (see [`serialize`]), borrowed from
/// the buffer; a malformed buffer gives as many pairs as it holds in full.
pub fn pairs_of(bytes: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let word = |at: usize| bytes.get(at..at + 4).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(u32::from_le_bytes);
    let count = word(0).unwrap_or(0) as usize;
    let mut data = 4usize.saturating_add(count.saturating_mul(8));
    (0..count).map_while(move |i| {
        let (n, v) = (word(4 + 8 * i)? as usize, word(8 + 8 * i)? as usize);
        let name = bytes.get(data..data.checked_add(n)?)?;
        let at = data.checked_add(n)?.checked_add(1)?;
        let value = bytes.get(at..at.checked_add(v)?)?;
        data = at.checked_add(v)?.checked_add(1)?;
        Some((name, value))
    })
}

#[cfg(test)]
mod tests {
    use super::{pairs_of, serialize};

    #[test]
    fn the_map_encoding_reads_back_and_a_cut_buffer_gives_only_whole_pairs() {
        let pairs: [(&str, &[u8]); 3] = [(":path", b"/a"), ("cookie", b"a=1; b=2"), ("x", b"\xff")];
        let bytes = serialize(&pairs);
        let back: Vec<_> = pairs_of(&bytes).collect();
        assert_eq!(back, pairs.iter().map(|(n, v)| (n.as_bytes(), *v)).collect::<Vec<_>>());
        // Cut anywhere before the last value ends (its closing NUL is not needed).
        for cut in 0..bytes.len() - 1 {
            assert!(pairs_of(&bytes[..cut]).count() < 3, "cut at {cut}");
        }
        // A count far larger than the buffer: nothing, and no overflow.
        let mut huge = bytes.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(pairs_of(&huge).count(), 0);
        assert_eq!(pairs_of(&[]).count(), 0);
    }
}
