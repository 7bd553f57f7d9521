//! Secrets: given inline or as `{"env": "NAME"}`, and never printed.

use serde::Deserialize;
use std::fmt;

/// How a secret is written in the config.
#[derive(Deserialize, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum SecretSource {
    /// `"value"`: the secret itself.
    Inline(String),
    /// `{"env": "NAME"}`: read from the VM's environment.
    Env(EnvRef),
}

#[derive(Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EnvRef {
    pub env: String,
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Inline(_) => f.write_str("SecretSource::Inline([redacted])"),
            SecretSource::Env(r) => write!(f, "SecretSource::Env({:?})", r.env),
        }
    }
}

/// A resolved secret value. Its `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }
    /// The secret's text, for the few places that must send it (the token endpoint).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Reads environment variables; the shell passes the VM's environment, tests a map.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process (VM) environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// Why a secret could not be resolved. Never carries the secret, nor the variable's
/// name (a secret pasted into `env` by mistake would otherwise reach the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretError {
    Empty,
    EnvEmpty,
    EnvUnset,
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretError::Empty => "must not be empty",
            SecretError::EnvEmpty => "names an environment variable that is empty in the VM",
            SecretError::EnvUnset => "names an environment variable that is not set in the VM",
        })
    }
}

impl SecretSource {
    /// Resolves the secret.
    pub fn resolve(&self, env: &dyn Env) -> Result<Secret, SecretError> {
        match self {
            SecretSource::Inline(v) if v.is_empty() => Err(SecretError::Empty),
            SecretSource::Inline(v) => Ok(Secret(v.clone())),
            SecretSource::Env(r) => match env.var(&r.env) {
                Some(v) if !v.is_empty() => Ok(Secret(v)),
                Some(_) => Err(SecretError::EnvEmpty),
                None => Err(SecretError::EnvUnset),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing::MapEnv;

    #[test]
    fn debug_never_shows_the_value() {
        let s: SecretSource = serde_json::from_str("\"hunter2\"").unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        let resolved = s.resolve(&MapEnv::default()).unwrap();
        assert_eq!(format!("{resolved:?}"), "[redacted]");
        assert_eq!(resolved.expose(), "hunter2");
    }

    #[test]
    fn env_reference_resolves_or_says_what_is_wrong() {
        let s: SecretSource = serde_json::from_str(r#"{"env":"CS"}"#).unwrap();
        assert_eq!(s.resolve(&MapEnv::with(&[("CS", "v")])).unwrap().expose(), "v");
        assert_eq!(s.resolve(&MapEnv::default()), Err(SecretError::EnvUnset));
        assert_eq!(s.resolve(&MapEnv::with(&[("CS", "")])), Err(SecretError::EnvEmpty));
        assert_eq!(SecretError::EnvUnset.to_string(), "names an environment variable that is not set in the VM");
    }

    #[test]
    fn unknown_object_keys_are_not_a_secret() {
        assert!(serde_json::from_str::<SecretSource>(r#"{"envv":"CS"}"#).is_err());
    }
}
