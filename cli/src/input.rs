//! Reading what the user typed: JSON or `@file`, `key=value` labels, durations. Every failure
//! is a usage error naming the flag.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::usage;

/// `text` as JSON, or the JSON in the file `@path`.
pub fn json_arg(flag: &str, text: &str) -> anyhow::Result<Value> {
    let (source, content) = match text.strip_prefix('@') {
        Some(path) => (
            path.to_owned(),
            std::fs::read_to_string(path)
                .map_err(|e| usage(format!("{flag}: cannot read {path}: {e}")))?,
        ),
        None => ("the argument".to_owned(), text.to_owned()),
    };
    serde_json::from_str(&content)
        .map_err(|e| usage(format!("{flag}: {source} is not valid JSON: {e}")))
}

/// `key=value` pairs into a map; a repeated key is refused.
pub fn labels(flag: &str, pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(usage(format!("{flag} {pair:?}: expected key=value")));
        };
        if labels.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(usage(format!("{flag}: {key:?} given twice")));
        }
    }
    Ok(labels)
}

/// Milliseconds from `1500`, `1500ms`, `30s`, `2m` or `1h`.
pub fn millis(flag: &str, text: &str) -> anyhow::Result<i64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let factor = match unit {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => 0,
    };
    number
        .parse::<i64>()
        .ok()
        .filter(|_| factor > 0)
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| {
            usage(format!(
                "{flag} {text:?}: expected milliseconds or a number with ms, s, m or h"
            ))
        })
}

/// An RFC 3339 time, checked here so a typo is a usage error and not a server refusal.
pub fn time(flag: &str, text: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| {
            usage(format!(
                "{flag} {text:?}: not an RFC 3339 time (e.g. 2026-01-31T09:00:00Z): {e}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_the_usual_units() {
        assert_eq!(millis("--timeout", "1500").ok(), Some(1500));
        assert_eq!(millis("--timeout", "30s").ok(), Some(30_000));
        assert_eq!(millis("--timeout", "2m").ok(), Some(120_000));
        assert!(millis("--timeout", "2 weeks").is_err());
        assert!(millis("--timeout", "").is_err());
        assert!(millis("--timeout", "99999999999999999999h").is_err());
    }

    #[test]
    fn labels_need_an_equals_sign_and_distinct_keys() {
        let ok = labels("--label", &["a=1".into(), "b=x=y".into()]).expect("valid");
        assert_eq!(ok.get("b").map(String::as_str), Some("x=y"));
        assert!(labels("--label", &["nope".into()]).is_err());
        assert!(labels("--label", &["a=1".into(), "a=2".into()]).is_err());
    }

    #[test]
    fn json_arguments_say_what_is_wrong() {
        let err = json_arg("--payload", "{oops").expect_err("invalid");
        assert!(err.to_string().contains("--payload"), "{err}");
    }
}
