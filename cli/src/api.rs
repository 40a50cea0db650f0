//! A small JSON client for TaskFlow's HTTP APIs (svc-tasks, svc-scheduler, svc-notify): Bearer
//! authentication, and every error status turned into an [`ApiProblem`].

use std::time::Duration;

use anyhow::Context;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::error::ApiProblem;

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// A successful answer: status, headers and the JSON body (`Null` when there was none).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Api {
    pub fn new(base: &str, token: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request to `path` with the Bearer token; no overall timeout (streams use it too).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// Sends `request` and reads the JSON answer; an error status becomes an [`ApiProblem`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        request: RequestBuilder,
    ) -> anyhow::Result<Answer> {
        let response = request
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .with_context(|| format!("{method} {}{path}: no answer", self.base))?;
        let status = response.status();
        let headers = response.headers().clone();
        if !status.is_success() {
            return Err(problem(method, path, response).await.into());
        }
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("{method} {path}: reading the answer"))?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .with_context(|| format!("{method} {path}: the answer is not JSON"))?
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let request = self.request(Method::GET, path);
        Ok(self.send(Method::GET, path, request).await?.body)
    }

    pub async fn post(&self, path: &str, body: Option<&Value>) -> anyhow::Result<Answer> {
        let mut request = self.request(Method::POST, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.send(Method::POST, path, request).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let request = self.request(Method::PATCH, path).json(body);
        Ok(self.send(Method::PATCH, path, request).await?.body)
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Answer> {
        let request = self.request(Method::DELETE, path);
        self.send(Method::DELETE, path, request).await
    }
}

/// Reads an error answer into an [`ApiProblem`] (problem+json, other JSON, or plain text).
pub async fn problem(method: Method, path: &str, response: Response) -> ApiProblem {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    ApiProblem {
        method: method.to_string(),
        path: path.to_owned(),
        status,
        body,
    }
}
