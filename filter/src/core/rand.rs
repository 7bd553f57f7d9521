//! Randomness comes in from outside: WASI `random_get` in Envoy, a fixed stream in tests.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// A source of random bytes.
pub trait Random {
    fn fill(&mut self, buf: &mut [u8]);
}

/// `bytes` random bytes, base64url without padding (state, nonce, PKCE verifier).
pub fn random_token(rng: &mut dyn Random, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rng.fill(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}
