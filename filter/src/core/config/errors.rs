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

/// Where in the config a JSON text position lies, as a path (`bearer.issuers[0].jwks`;
/// `.` for the top level): the key or element being read there. serde_json says where
/// an error is (line and column); this reads the text up to there. Config text only
/// (load time): a small scan rather than a path-tracking deserializer, which would
/// instantiate every config type's deserializer a second time (about 100 KB of module).
fn path_at(text: &str, line: usize, column: usize) -> String {
    enum Frame {
        Object { key: Option<String>, expecting_key: bool },
        Array(usize),
    }
    let mut offset = 0;
    for (n, l) in text.split('\n').enumerate() {
        if n + 1 == line {
            offset += column;
            break;
        }
        offset += l.len() + 1;
    }
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i).filter(|_| i < offset) {
        match (b, stack.last_mut()) {
            (b'{', _) => stack.push(Frame::Object { key: None, expecting_key: true }),
            (b'[', _) => stack.push(Frame::Array(0)),
            (b'}' | b']', _) => {
                stack.pop();
            }
            (b',', Some(Frame::Array(n))) => *n += 1,
            (b',', Some(Frame::Object { key, expecting_key })) => (*key, *expecting_key) = (None, true),
            (b'"', frame) => {
                // The string's end: the next quote not escaped.
                let mut end = i + 1;
                while let Some(&c) = bytes.get(end) {
                    match c {
                        b'\\' => end += 2,
                        b'"' => break,
                        _ => end += 1,
                    }
                }
                if let Some(Frame::Object { key, expecting_key: expecting_key @ true }) = frame {
                    *key = text.get(i..=end).and_then(|s| serde_json::from_str(s).ok());
                    *expecting_key = false;
                }
                i = end;
            }
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for frame in &stack {
        match frame {
            Frame::Object { key: Some(k), .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
            }
            Frame::Array(n) => path.push_str(&format!("[{n}]")),
            Frame::Object { key: None, .. } => {}
        }
    }
    if path.is_empty() {
        ".".to_string()
    } else {
        path
    }
}

/// A JSON or type error from serde, as a [`ConfigError`]; `text` is the config it read.
pub fn from_serde(e: &serde_json::Error, text: &str) -> ConfigError {
    let path = path_at(text, e.line(), e.column());
    let inner = e.to_string();
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
