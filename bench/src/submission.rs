//! What the load generators send to svc-tasks: `noop` task bodies, serialised once, and the
//! tenant's API key as a header value.

use anyhow::Context;
use reqwest::header::HeaderValue;

/// One `noop` task, the body of `POST /v1/tasks`.
pub const NOOP_TASK: &str = r#"{"type":"noop","payload":{}}"#;

/// `size` `noop` tasks, the body of `POST /v1/tasks:batch`.
pub fn noop_batch(size: usize) -> String {
    format!(r#"{{"tasks":[{}]}}"#, vec![NOOP_TASK; size].join(","))
}

/// `Bearer <key>`, marked sensitive so it is never logged.
pub fn bearer(key: &str) -> anyhow::Result<HeaderValue> {
    let mut auth = HeaderValue::from_str(&format!("Bearer {key}")).context("API key")?;
    auth.set_sensitive(true);
    Ok(auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_valid_json_with_every_task() {
        let body: serde_json::Value =
            serde_json::from_str(&noop_batch(3)).expect("a batch is JSON");
        assert_eq!(body["tasks"].as_array().map(Vec::len), Some(3));
        assert_eq!(body["tasks"][2]["type"], "noop");
    }

    #[test]
    fn a_key_with_a_newline_is_refused() {
        assert!(bearer("tfk_abc\n").is_err());
        assert!(bearer("tfk_abc").is_ok_and(|h| h.is_sensitive()));
    }
}
