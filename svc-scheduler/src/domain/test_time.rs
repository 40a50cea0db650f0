//! Fixed instants for the tests: the "manual clock" is just the `now` passed in.

use chrono::{DateTime, Utc};

pub fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect(text)
        .with_timezone(&Utc)
}

use super::options::{Window, occurrences};
use super::spec::{Spec, SpecInput};

/// A cron spec in a zone; panics on a refusal (tests of refusals call `Spec::parse`).
pub fn cron(expression: &str, timezone: &str) -> Spec {
    Spec::parse(&SpecInput {
        cron: Some(expression.into()),
        timezone: Some(timezone.into()),
        ..SpecInput::default()
    })
    .expect(expression)
}

/// Every fire in `(from, to]`, as RFC 3339 UTC strings for readable assertions.
pub fn fires(spec: &Spec, from: &str, to: &str) -> Vec<String> {
    occurrences(
        spec,
        &Window::default(),
        utc(from),
        utc(from),
        utc(to),
        10_000,
    )
    .iter()
    .map(|instant| instant.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    .collect()
}
