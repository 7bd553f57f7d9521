//! Data shared between the workers of one Envoy (proxy-wasm shared data): what one worker
//! learned that the others must not ask the IdP again (a refresh in flight or its result,
//! an introspection result). The shell gives the host's store; tests an in-memory one.

pub mod flight;
pub mod revoked;
pub mod tokens;

use std::collections::HashMap;

/// A key-value store with compare-and-swap, shared by every worker of one Envoy.
pub trait SharedStore {
    /// The value and its version (`cas`); `None` when the key was never set.
    fn get(&mut self, key: &str) -> Option<(Vec<u8>, u32)>;
    /// Sets the value if its version is still `cas` (0: whatever it is). `false` when
    /// another worker changed it first, or the store refused.
    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> bool;
}

/// A store shared with nobody: when the host has none, every worker works alone.
#[derive(Default)]
pub struct LocalStore {
    values: HashMap<String, (Vec<u8>, u32)>,
}

impl SharedStore for LocalStore {
    fn get(&mut self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.values.get(key).cloned()
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> bool {
        let entry = self.values.entry(key.to_string()).or_insert((Vec::new(), 0));
        if cas != 0 && entry.1 != cas {
            return false;
        }
        *entry = (value.to_vec(), entry.1.wrapping_add(1).max(1));
        true
    }
}
