//! What PostgreSQL can store. Text and jsonb columns cannot hold U+0000 (NUL): `text` refuses the
//! byte and `jsonb` refuses the `\u0000` escape. Every other Unicode scalar value is storable (the
//! database is UTF-8, and a Rust `String` is valid UTF-8). Input is checked here, before a
//! transaction starts, so such a request is refused as invalid instead of failing in the database.

use serde_json::Value;

use crate::domain::catalog::PayloadProblem;

pub const NUL_MESSAGE: &str = "contains U+0000 (NUL), which cannot be stored";

/// False when `s` holds a character the database cannot store.
pub fn storable(s: &str) -> bool {
    !s.contains('\0')
}

/// `token` escaped for use as one reference token of a JSON pointer (RFC 6901).
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Every place in `value` (strings and object keys, at any depth) that the database cannot
/// store, as JSON pointers below `base`.
pub fn unstorable_in(value: &Value, base: &str) -> Vec<PayloadProblem> {
    let mut problems = Vec::new();
    collect(value, base, &mut problems);
    problems
}

fn collect(value: &Value, at: &str, problems: &mut Vec<PayloadProblem>) {
    match value {
        Value::String(s) if !storable(s) => problems.push(PayloadProblem {
            pointer: at.to_owned(),
            message: NUL_MESSAGE.into(),
        }),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect(item, &format!("{at}/{i}"), problems);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let here = format!("{at}/{}", pointer_token(key));
                if !storable(key) {
                    problems.push(PayloadProblem {
                        pointer: here.clone(),
                        message: format!("the member name {NUL_MESSAGE}"),
                    });
                }
                collect(item, &here, problems);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nul_is_found_in_strings_and_keys_at_any_depth() {
        let value = json!({
            "ok": "fine",
            "a/b": ["x", "y\u{0}"],
            "k\u{0}": {"deep": "z\u{0}"},
        });
        let pointers: Vec<_> = unstorable_in(&value, "/payload")
            .into_iter()
            .map(|p| p.pointer)
            .collect();
        assert_eq!(
            pointers,
            ["/payload/a~1b/1", "/payload/k\u{0}", "/payload/k\u{0}/deep"]
        );
        assert!(unstorable_in(&json!({"emoji": "🙂", "n": 1}), "").is_empty());
        assert!(storable("tab\tand newline\n are fine"));
        assert!(!storable("nul\u{0}"));
        assert_eq!(pointer_token("a~b/c"), "a~0b~1c");
    }
}
