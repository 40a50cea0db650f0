//! A small client for the Confluent-compatible registry API: the calls `schemas-check` and the
//! tests need, keeping the registry's own messages in the errors.

use serde::Deserialize;
use serde_json::json;

use crate::config::RegistrySettings;

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("schema registry at {url} unreachable: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("schema registry refused the schema for {subject} as incompatible: {message}")]
    Incompatible { subject: String, message: String },
    #[error("schema registry answered {status} for {what}: {body}")]
    Status {
        what: String,
        status: u16,
        body: String,
    },
}

/// Outcome of asking whether a schema may become the next version of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compatibility {
    pub is_compatible: bool,
    /// The registry's explanation when it is not compatible.
    pub messages: Vec<String>,
}

#[derive(Clone)]
pub struct RegistryClient {
    base: String,
    http: reqwest::Client,
}

impl RegistryClient {
    pub fn new(settings: &RegistrySettings) -> Self {
        Self {
            base: settings.url.clone(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn global_compatibility(&self) -> Result<String, RegistryError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Config {
            compatibility_level: Option<String>,
            compatibility: Option<String>,
        }
        let config: Config = self.get("/config").await?;
        Ok(config
            .compatibility_level
            .or(config.compatibility)
            .unwrap_or_default())
    }

    pub async fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        self.get("/subjects").await
    }

    /// Checks `schema` (Avro JSON text) against the latest version of `subject` under the
    /// subject's compatibility rule. A subject that does not exist yet accepts anything.
    pub async fn check_compatibility(
        &self,
        subject: &str,
        schema: &str,
    ) -> Result<Compatibility, RegistryError> {
        #[derive(Deserialize)]
        struct Answer {
            is_compatible: bool,
            #[serde(default)]
            messages: Vec<serde_json::Value>,
        }
        let path = format!("/compatibility/subjects/{subject}/versions/latest?verbose=true");
        let response = self.post(&path, schema).await?;
        let status = response.status();
        if status.as_u16() == 404 {
            return Ok(Compatibility {
                is_compatible: true,
                messages: vec![],
            });
        }
        let body = response.text().await.map_err(|e| self.unreachable(e))?;
        if !status.is_success() {
            return Err(RegistryError::Status {
                what: format!("compatibility of {subject}"),
                status: status.as_u16(),
                body,
            });
        }
        let answer: Answer = serde_json::from_str(&body).map_err(|_| RegistryError::Status {
            what: format!("compatibility of {subject} (unreadable answer)"),
            status: status.as_u16(),
            body: body.clone(),
        })?;
        Ok(Compatibility {
            is_compatible: answer.is_compatible,
            messages: answer
                .messages
                .into_iter()
                .map(|m| match m {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect(),
        })
    }

    /// Registers `schema` under `subject` (a no-op returning the same id when it is there
    /// already) and returns its id.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        #[derive(Deserialize)]
        struct Registered {
            id: u32,
        }
        let response = self
            .post(&format!("/subjects/{subject}/versions"), schema)
            .await?;
        let status = response.status();
        let body = response.text().await.map_err(|e| self.unreachable(e))?;
        match status.as_u16() {
            200..=299 => serde_json::from_str::<Registered>(&body)
                .map(|r| r.id)
                .map_err(|_| RegistryError::Status {
                    what: format!("registration of {subject} (unreadable answer)"),
                    status: status.as_u16(),
                    body,
                }),
            409 => Err(RegistryError::Incompatible {
                subject: subject.to_owned(),
                message: registry_message(&body),
            }),
            code => Err(RegistryError::Status {
                what: format!("registration of {subject}"),
                status: code,
                body,
            }),
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, RegistryError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .get(&url)
            .header("Accept", CONTENT_TYPE)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| self.unreachable(e))?;
        if !status.is_success() {
            return Err(RegistryError::Status {
                what: path.to_owned(),
                status: status.as_u16(),
                body,
            });
        }
        serde_json::from_str(&body).map_err(|_| RegistryError::Status {
            what: format!("{path} (unreadable answer)"),
            status: status.as_u16(),
            body,
        })
    }

    async fn post(&self, path: &str, schema: &str) -> Result<reqwest::Response, RegistryError> {
        self.http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", CONTENT_TYPE)
            .header("Accept", CONTENT_TYPE)
            .json(&json!({ "schema": schema, "schemaType": "AVRO" }))
            .send()
            .await
            .map_err(|e| self.unreachable(e))
    }

    fn unreachable(&self, source: reqwest::Error) -> RegistryError {
        RegistryError::Unreachable {
            url: self.base.clone(),
            source,
        }
    }
}

/// The `message` of a Confluent-style error body, or the body itself.
fn registry_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.to_owned())
}
