//! Byte scans on the per-request path, eight bytes at a time. The module's C library
//! (wasi-libc) compares byte by byte and `str::split(char)` spent ~1 cycle a byte in V8:
//! together 1.5 us of a session request's 2.5 us in the core, for a 3.4 KB `Cookie`
//! header and the cached session it matched (`scripts/verify-speed --hot`).

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

fn word(chunk: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(chunk);
    u64::from_le_bytes(w)
}

/// The index of the first `byte` in `hay` at or after `from`.
pub fn find(hay: &[u8], from: usize, byte: u8) -> Option<usize> {
    let tail = hay.get(from..)?;
    let pattern = ONES.wrapping_mul(u64::from(byte));
    let mut chunks = tail.chunks_exact(8);
    let mut at = from;
    for chunk in &mut chunks {
        let w = word(chunk) ^ pattern;
        // The lowest set bit marks the first zero byte of `w` (borrows only run upwards).
        let zero = w.wrapping_sub(ONES) & !w & HIGHS;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks.remainder().iter().position(|&b| b == byte).map(|p| at + p)
}

/// The pieces of `text` between each ASCII `byte`, as `str::split` gives them (a cut at an
/// ASCII byte always falls on a character boundary).
pub fn split(text: &str, byte: u8) -> impl Iterator<Item = &str> {
    debug_assert!(byte.is_ascii());
    let mut start = 0;
    std::iter::from_fn(move || {
        if start > text.len() {
            return None;
        }
        let end = find(text.as_bytes(), start, byte).unwrap_or(text.len());
        let piece = text.get(start..end).unwrap_or_default();
        start = end + 1;
        Some(piece)
    })
}

/// `text` around its first ASCII `byte`, as `str::split_once` gives it.
pub fn split_once(text: &str, byte: u8) -> Option<(&str, &str)> {
    let at = find(text.as_bytes(), 0, byte)?;
    Some((text.get(..at)?, text.get(at + 1..)?))
}

/// Whether every byte is ASCII, 32 bytes a step (`str::from_utf8`'s own ASCII path takes
/// four at a time in wasm32, whose `usize` is 32 bits: 8 % of a session request's module time
/// went to checking its 3.4 KB `Cookie`).
pub fn is_ascii(bytes: &[u8]) -> bool {
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        let (a, b) = block.split_at(16);
        let (a0, a1) = a.split_at(8);
        let (b0, b1) = b.split_at(8);
        if (word(a0) | word(a1) | word(b0) | word(b1)) & HIGHS != 0 {
            return false;
        }
    }
    blocks.remainder().is_ascii()
}

/// Whether `a` and `b` hold the same bytes. Reads all of both when the lengths match
/// (no early exit: how long it takes says nothing of where they differ).
pub fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut ca, mut cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let mut diff = 0u64;
    for (x, y) in (&mut ca).zip(&mut cb) {
        diff |= word(x) ^ word(y);
    }
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        diff |= u64::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_a_byte_loop_finds() {
        let mut hay = Vec::new();
        for i in 0..200u32 {
            hay.push(b"ab;=\x80\xff"[(i * 7 % 6) as usize]);
        }
        for byte in [b';', b'=', b'a', 0x80, 0xff, 0x7f, 0] {
            for from in 0..=hay.len() + 2 {
                let slow = hay.get(from..).and_then(|t| t.iter().position(|&b| b == byte).map(|p| from + p));
                assert_eq!(find(&hay, from, byte), slow, "byte {byte} from {from}");
            }
        }
        // A byte one above the pattern right before a match (where a borrow could lie).
        assert_eq!(find(b"\x01\x00\x00\x00\x00\x00\x00\x00", 0, 0), Some(1));
        assert_eq!(find(b"<<<<<<<;", 0, b';'), Some(7));
        assert_eq!(find(b";", 1, b';'), None);
        assert_eq!(find(b"", 0, b';'), None);
    }

    #[test]
    fn split_is_str_split() {
        for text in ["", ";", "a", "a;b", ";a;;b;", "é;=;ü", "a=b=c", ";;;;;;;;;;;;;;;;;;x"] {
            for byte in [b';', b'=', b','] {
                let c = char::from(byte);
                assert_eq!(split(text, byte).collect::<Vec<_>>(), text.split(c).collect::<Vec<_>>(), "{text:?}");
                assert_eq!(split_once(text, byte), text.split_once(c), "{text:?}");
            }
        }
    }

    /// One byte at or above 0x80 anywhere (in a whole block, the remainder, each lane of a
    /// block) makes it not ASCII, as the standard library's check says.
    #[test]
    fn is_ascii_is_the_byte_check() {
        for n in 0..100 {
            let text: Vec<u8> = (0..n).map(|i| b' ' + (i % 90) as u8).collect();
            assert!(is_ascii(&text), "{n}");
            for i in 0..n {
                for high in [0x80u8, 0xc3, 0xff] {
                    let mut bad = text.clone();
                    bad[i] = high;
                    assert!(!is_ascii(&bad), "0x{high:x} at {i} of {n}");
                    assert_eq!(is_ascii(&bad), bad.is_ascii());
                }
            }
        }
        assert!(is_ascii(b"\x7f\x00\x7f\x00\x7f\x00\x7f\x00\x7f\x00\x7f\x00\x7f\x00\x7f\x00\x7f\x00\x7f\x00\x7f\x00\x7f\x00\x7f\x00\x7f\x00\x7f\x00\x7f\x00"));
    }

    #[test]
    fn same_is_byte_equality() {
        let a: Vec<u8> = (0..100u8).collect();
        for n in 0..a.len() {
            assert!(same(&a[..n], &a[..n]));
            for i in 0..n {
                let mut b = a[..n].to_vec();
                b[i] ^= 0x40;
                assert!(!same(&a[..n], &b), "differs at {i} of {n}");
            }
        }
        assert!(!same(b"abc", b"abcd"));
        assert!(same(b"", b""));
    }
}
