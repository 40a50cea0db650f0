//! Query parameters, checked before a stream starts: an unknown or malformed parameter is a
//! 400 problem, never a stream that silently ignores it. The resume cursor's rules are
//! `service::resume`'s.

use actix_web::HttpRequest;
use uuid::Uuid;

use super::errors::{ApiError, bad_request};
use crate::domain::TaskStatus;
use crate::service::resume;
use crate::service::subscription::Filter;

pub struct Params(Vec<(String, String)>);

/// Parameters that may be given more than once.
const REPEATABLE: &[&str] = &["label"];

impl Params {
    /// The query's parameters; any not in `allowed` is refused.
    pub fn parse(req: &HttpRequest, allowed: &[&str]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
            .map_err(|e| bad_request("invalid-query", "Invalid query string", e.to_string()))?;
        for (i, (name, _)) in pairs.iter().enumerate() {
            if !allowed.contains(&name.as_str()) {
                return Err(bad_request(
                    "unknown-parameter",
                    "Unknown query parameter",
                    format!(
                        "unknown query parameter {name:?}; this endpoint takes {}",
                        allowed.join(", ")
                    ),
                ));
            }
            if !REPEATABLE.contains(&name.as_str()) && pairs[..i].iter().any(|(n, _)| n == name) {
                return Err(bad_request(
                    "invalid-query",
                    "Invalid query parameter",
                    format!("{name} may be given once"),
                ));
            }
        }
        Ok(Self(pairs))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `limit` within `1..=max`, `default` when absent.
    pub fn limit(&self, default: i64, max: i64) -> Result<i64, ApiError> {
        match self.get("limit") {
            None => Ok(default),
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    bad_request(
                        "invalid-query",
                        "Invalid query parameter",
                        format!("limit must be a whole number from 1 to {max}, not {text:?}"),
                    )
                }),
        }
    }

    pub fn uuid(&self, name: &str) -> Result<Option<Uuid>, ApiError> {
        self.get(name)
            .map(|text| {
                text.parse().map_err(|_| {
                    bad_request(
                        "invalid-query",
                        "Invalid query parameter",
                        format!("{name} must be a task id (uuid), not {text:?}"),
                    )
                })
            })
            .transpose()
    }

    /// Where to resume, from `?after=` and `Last-Event-ID` ([`resume::cursor`]).
    pub fn cursor(&self, req: &HttpRequest) -> Result<Option<i64>, ApiError> {
        let header = req
            .headers()
            .get("last-event-id")
            .map(|v| v.to_str().unwrap_or("\u{FFFD}"));
        Ok(resume::cursor(self.get("after"), header)?)
    }

    /// `type`, `status` and `label=key:value` (repeatable, all must match).
    pub fn filter(&self) -> Result<Filter, ApiError> {
        let status = match self.get("status") {
            None => None,
            Some(text) => Some(
                TaskStatus::parse(text)
                    .ok_or_else(|| {
                        bad_request(
                            "invalid-query",
                            "Invalid query parameter",
                            format!(
                                "status must be one of scheduled, pending, running, retrying, completed, failed, cancelled; not {text:?}"
                            ),
                        )
                    })?
                    .as_str()
                    .to_owned(),
            ),
        };
        let task_type = match self.get("type") {
            Some(t) if t.is_empty() || t.chars().count() > 64 => {
                return Err(bad_request(
                    "invalid-query",
                    "Invalid query parameter",
                    "type must be 1 to 64 characters",
                ));
            }
            other => other.map(str::to_owned),
        };
        let labels = self
            .all("label")
            .map(|text| match text.split_once(':') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
                _ => Err(bad_request(
                    "invalid-query",
                    "Invalid query parameter",
                    format!("label must be key:value, not {text:?}"),
                )),
            })
            .collect::<Result<_, _>>()?;
        Ok(Filter {
            task_id: None,
            task_type,
            status,
            labels,
        })
    }
}
