//! Authenticated encryption for cookies: XChaCha20-Poly1305 (fast in software, and wasm
//! has no AES instructions) under a key list. The first key seals, every key opens.
//! The cookie name is the associated data, so a value sealed for one cookie cannot be
//! replayed as another.

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use std::fmt;

use crate::core::rand::Random;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
/// Sealed values longer than this are refused without decoding.
pub const MAX_SEALED: usize = 64 * 1024;

pub struct Keys {
    ciphers: Vec<XChaCha20Poly1305>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys([redacted; {}])", self.ciphers.len())
    }
}

/// Why a session key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    NotBase64,
    WrongLength(usize),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::NotBase64 => f.write_str("is not base64"),
            KeyError::WrongLength(n) => write!(f, "must be 32 random bytes, base64-encoded (got {n} bytes)"),
        }
    }
}

/// Decodes a 32-byte key given in base64 (standard or URL-safe, padded or not).
pub fn parse_key(text: &str) -> Result<[u8; 32], KeyError> {
    let t = text.trim();
    let bytes = STANDARD
        .decode(t)
        .or_else(|_| URL_SAFE.decode(t))
        .or_else(|_| URL_SAFE_NO_PAD.decode(t))
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(t))
        .map_err(|_| KeyError::NotBase64)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| KeyError::WrongLength(bytes.len()))
}

impl Keys {
    pub fn new(keys: &[[u8; 32]]) -> Keys {
        Keys { ciphers: keys.iter().map(|k| XChaCha20Poly1305::new(k.into())).collect() }
    }

    /// Seals `plain` for the cookie `name`: base64url(version | nonce | ciphertext).
    pub fn seal(&self, name: &str, plain: &[u8], rng: &mut dyn Random) -> Option<String> {
        let cipher = self.ciphers.first()?;
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce);
        let sealed = cipher.encrypt(&XNonce::from(nonce), Payload { msg: plain, aad: name.as_bytes() }).ok()?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Some(URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a value sealed for `name` by any of the keys. `None` for anything tampered,
    /// truncated, sealed by an unknown key, or for another cookie.
    pub fn open(&self, name: &str, value: &str) -> Option<Vec<u8>> {
        if value.len() > MAX_SEALED {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(value).ok()?;
        let (version, rest) = raw.split_first()?;
        if *version != VERSION || rest.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = XNonce::from(<[u8; NONCE_LEN]>::try_from(nonce).ok()?);
        self.ciphers.iter().find_map(|c| c.decrypt(&nonce, Payload { msg: sealed, aad: name.as_bytes() }).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing::FixedRng as Counter;

    #[test]
    fn seals_and_opens_with_rotation() {
        let (k1, k2) = ([1u8; 32], [2u8; 32]);
        let mut rng = Counter(0);
        let old = Keys::new(&[k1]).seal("s", b"hello", &mut rng).unwrap();
        let rotated = Keys::new(&[k2, k1]);
        assert_eq!(rotated.open("s", &old).as_deref(), Some(&b"hello"[..]), "old key still opens");
        let new = rotated.seal("s", b"hi", &mut rng).unwrap();
        assert_eq!(Keys::new(&[k2]).open("s", &new).as_deref(), Some(&b"hi"[..]), "first key seals");
        assert_eq!(Keys::new(&[k2]).open("s", &old), None, "old key removed: no longer opens");
    }

    #[test]
    fn refuses_tampering_truncation_and_other_names() {
        let keys = Keys::new(&[[7u8; 32]]);
        let sealed = keys.seal("s", b"payload", &mut Counter(0)).unwrap();
        assert_eq!(keys.open("other", &sealed), None);
        let mut raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(keys.open("s", &URL_SAFE_NO_PAD.encode(&raw)), None);
        assert_eq!(keys.open("s", &sealed[..sealed.len() - 4]), None);
        for garbage in ["", "AA", "!!!", "AQ", &"A".repeat(100_000)] {
            assert_eq!(keys.open("s", garbage), None);
        }
    }

    #[test]
    fn key_parsing() {
        let b64 = STANDARD.encode([9u8; 32]);
        assert_eq!(parse_key(&b64), Ok([9u8; 32]));
        assert_eq!(parse_key(&URL_SAFE_NO_PAD.encode([9u8; 32])), Ok([9u8; 32]));
        assert_eq!(parse_key("c2hvcnQ="), Err(KeyError::WrongLength(5)));
        assert_eq!(KeyError::WrongLength(5).to_string(), "must be 32 random bytes, base64-encoded (got 5 bytes)");
        assert_eq!(parse_key("not base64!"), Err(KeyError::NotBase64));
    }
}
