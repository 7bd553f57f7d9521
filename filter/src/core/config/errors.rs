//! Configuration errors: each names its field path (`bearer.issuers[1].issuer`) and what
//! is wrong, and never repeats the value found there (a secret pasted into the wrong key
//! must not reach Envoy's log).

use std::fmt;
use std::time::Duration;

use super::duration;
use super::secret::{Env, Secret, SecretSource};

/// One configuration error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Collects every error of a compile, so that one run reports them all.
#[derive(Default)]
pub struct Errors(Vec<ConfigError>);

impl Errors {
    pub fn push(&mut self, field: impl Into<String>, message: impl fmt::Display) {
        self.0.push(ConfigError { field: field.into(), message: message.to_string() });
    }

    /// `value` when no error was pushed, else every error.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<ConfigError>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }

    /// A duration key: its value, or `default` when absent (or wrong, with the error kept).
    pub fn duration(&mut self, field: &str, value: &Option<String>, default: Duration) -> Duration {
        match value.as_deref().map(duration::parse) {
            None => default,
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                self.push(field, e);
                default
            }
        }
    }

    /// A secret key, resolved from the config or the VM environment.
    pub fn secret(&mut self, field: &str, source: &SecretSource, env: &dyn Env) -> Option<Secret> {
        match source.resolve(env) {
            Ok(secret) => Some(secret),
            Err(e) => {
                let field = match source {
                    SecretSource::Env(_) => format!("{field}.env"),
                    SecretSource::Inline(_) => field.to_string(),
                };
                self.push(field, e);
                None
            }
        }
    }

    /// A whole number within `max`.
    pub fn at_most(&mut self, field: &str, value: usize, max: usize) -> usize {
        if value > max {
            self.push(field, format!("must be at most {max}"));
        }
        value
    }
}

/// A JSON or type error from serde, as a [`ConfigError`].
pub fn from_serde(e: &serde_path_to_error::Error<serde_json::Error>) -> ConfigError {
    let path = e.path().to_string();
    let inner = e.inner().to_string();
    // Strip serde_json's " at line L column C" tail; the path says where.
    let message = match inner.rfind(" at line ") {
        Some(i) => inner.get(..i).unwrap_or(&inner).to_string(),
        None => inner,
    };
    // serde names the unknown key in the message; put it into the path too. A key is
    // a name the config's author chose, not a value.
    if let Some(name) = message.strip_prefix("unknown field `").and_then(|r| r.split('`').next()) {
        let field = if path == "." || path == "?" {
            name.to_string()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path
        } else {
            format!("{path}.{name}")
        };
        return ConfigError { field, message: "unknown key".to_string() };
    }
    let message = if message.contains("did not match any variant of untagged enum SecretSource") {
        "a secret is a string or {\"env\": \"NAME\"}".to_string()
    } else {
        without_value(&message)
    };
    let field = if path == "." || path == "?" { "(config)".to_string() } else { path };
    ConfigError { field, message }
}

/// serde quotes the offending value (`invalid type: string "…", expected …`, or an
/// integer in backticks): keep the kind, drop the value.
fn without_value(message: &str) -> String {
    let mut out = message.to_string();
    if let Some(start) = out.find("string \"") {
        let value_start = start + "string ".len();
        let rest = out.get(value_start..).unwrap_or("");
        let end = rest.rfind("\", expected").or_else(|| rest.rfind('"')).map_or(rest.len(), |e| e + 1);
        out = format!("{}string{}", out.get(..start).unwrap_or(""), rest.get(end..).unwrap_or(""));
    }
    // `invalid type: integer `60`, expected …`, `invalid value: …`.
    while let Some(open) = out.find(" `") {
        let Some(close) = out.get(open + 2..).and_then(|r| r.find('`')) else { break };
        out = format!("{}{}", out.get(..open).unwrap_or(""), out.get(open + 2 + close + 1..).unwrap_or(""));
    }
    out
}
