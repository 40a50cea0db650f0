//! Text PostgreSQL can store. `text` and `jsonb` refuse U+0000 (NUL), so what a service did not
//! choose itself (a handler's error, an HTTP body, another service's event) is scrubbed before
//! it is written: NUL becomes U+FFFD, the replacement character. Input from clients is refused
//! instead (svc-tasks validates it), so that a caller learns about it.

use std::borrow::Cow;

use serde_json::Value;

/// `s` with every NUL replaced by U+FFFD.
pub fn scrub(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// `value` with NUL scrubbed from every string and member name, at any depth.
pub fn scrub_json(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(scrub(&s).into_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(scrub_json).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (scrub(&k).into_owned(), scrub_json(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_replaced_everywhere_and_nothing_else_changes() {
        assert_eq!(scrub("a\0b"), "a\u{FFFD}b");
        assert!(matches!(scrub("plain"), Cow::Borrowed("plain")));
        let value = serde_json::json!({"k\u{0}": ["x\u{0}", 1, {"n": null}], "ok": "é"});
        assert_eq!(
            scrub_json(value),
            serde_json::json!({"k\u{FFFD}": ["x\u{FFFD}", 1, {"n": null}], "ok": "é"})
        );
    }
}
