//! Durations written as strings: `"500ms"`, `"30s"`, `"10m"`, `"8h"`, `"1d"`, or
//! a sequence of them such as `"1h30m"`.

use std::fmt;
use std::time::Duration;

/// A string that is not a duration. Its text never repeats the input (which could be a
/// secret pasted into the wrong key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError;

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("is not a duration: use a number with a unit, e.g. \"30s\", \"10m\", \"8h\"")
    }
}

/// Parses a duration string.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    if text.is_empty() || text.len() > 32 {
        return Err(DurationError);
    }
    let bytes = text.as_bytes();
    let mut total_ms: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err(DurationError);
        }
        let number: u64 = text.get(start..i).and_then(|s| s.parse().ok()).ok_or(DurationError)?;
        let unit_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
        }
        let unit_ms: u64 = match text.get(unit_start..i) {
            Some("ms") => 1,
            Some("s") => 1_000,
            Some("m") => 60_000,
            Some("h") => 3_600_000,
            Some("d") => 86_400_000,
            _ => return Err(DurationError),
        };
        total_ms = number.checked_mul(unit_ms).and_then(|v| total_ms.checked_add(v)).ok_or(DurationError)?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// A duration as the config writes it, in its largest whole unit (`"8h"`, `"10m"`), but
/// in seconds up to a minute (`"60s"`).
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms > 0 && ms <= 60_000 && ms % 1_000 == 0 {
        return format!("{}s", ms / 1_000);
    }
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms > 0 && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    if ms == 0 {
        "0s".to_string()
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sequences() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("8h"), Ok(Duration::from_secs(8 * 3600)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_bad_text_without_repeating_it() {
        for text in ["", "30", "s", "30x", "-1s", "1.5s", " 30s", "30s ", "99999999999999999999d"] {
            assert_eq!(parse(text), Err(DurationError), "{text:?} should be rejected");
        }
        assert_eq!(
            DurationError.to_string(),
            "is not a duration: use a number with a unit, e.g. \"30s\", \"10m\", \"8h\""
        );
    }

    #[test]
    fn formats_in_the_largest_whole_unit() {
        for text in ["500ms", "30s", "60s", "90s", "2m", "10m", "8h", "1d", "0s", "90m"] {
            assert_eq!(format(parse(text).unwrap()), text);
        }
    }
}
