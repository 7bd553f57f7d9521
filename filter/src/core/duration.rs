//! Durations written as strings: `"500ms"`, `"30s"`, `"10m"`, `"8h"`, `"1d"`, or
//! a sequence of them such as `"1h30m"`.

use std::time::Duration;

/// Parses a duration string. Returns a message fit for a config error on failure.
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?}: use a number with a unit, e.g. \"30s\", \"10m\", \"8h\"");
    if text.is_empty() || text.len() > 32 {
        return Err(bad());
    }
    let bytes = text.as_bytes();
    let mut total_ms: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
        let number: u64 = text.get(start..i).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let unit_start = i;
        while i < bytes.len() && bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
        }
        let unit_ms: u64 = match text.get(unit_start..i) {
            Some("ms") => 1,
            Some("s") => 1_000,
            Some("m") => 60_000,
            Some("h") => 3_600_000,
            Some("d") => 86_400_000,
            _ => return Err(bad()),
        };
        total_ms = number.checked_mul(unit_ms).and_then(|v| total_ms.checked_add(v)).ok_or_else(bad)?;
    }
    Ok(Duration::from_millis(total_ms))
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
    fn rejects_bad_text() {
        for text in ["", "30", "s", "30x", "-1s", "1.5s", " 30s", "30s ", "99999999999999999999d"] {
            assert!(parse(text).is_err(), "{text:?} should be rejected");
        }
        assert_eq!(
            parse("30"),
            Err("invalid duration \"30\": use a number with a unit, e.g. \"30s\", \"10m\", \"8h\"".to_string())
        );
    }
}
