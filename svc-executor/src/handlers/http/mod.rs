//! The `http` task: one request, its redirects followed by hand, the response (capped) as the
//! result. Tenants choose the URL, so every hop passes the operator's policy first (`policy`:
//! what tasks may reach, against SSRF).

mod policy;
#[cfg(test)]
mod test_server;

use std::collections::BTreeMap;
use std::sync::Arc;

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Response, StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

pub use policy::{HttpPolicy, LoopbackPorts, is_allowed};

use super::HandlerError::{self, Permanent, Retryable};
use super::{Handler, Progress};
use policy::{CheckingResolver, Refused, check_target};

/// How much of an error response's body goes into the error message.
const EXCERPT_BYTES: usize = 256;

/// What an `http` task asks for (`schemas/tasks/http.json`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpPayload {
    url: String,
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
}

/// One request of a redirect chain.
struct Hop {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<String>,
}

impl Hop {
    fn parse(p: HttpPayload) -> Result<Self, HandlerError> {
        let url = Url::parse(&p.url).map_err(|e| invalid(&e))?;
        let method = match p.method.as_deref() {
            None | Some("GET") => Method::GET,
            Some("HEAD") => Method::HEAD,
            Some("POST") => Method::POST,
            Some("PUT") => Method::PUT,
            Some("PATCH") => Method::PATCH,
            Some("DELETE") => Method::DELETE,
            Some(other) => return Err(Permanent(format!("unsupported method {other:?}"))),
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &p.headers {
            let bad = || Permanent(format!("invalid header {name:?}"));
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            // Message framing is the client's job; a tenant's value could desync it.
            if ["content-length", "transfer-encoding", "connection"].contains(&name.as_str()) {
                return Err(bad());
            }
            headers.append(name, HeaderValue::from_str(value).map_err(|_| bad())?);
        }
        let body = p.body;
        Ok(Self {
            method,
            url,
            headers,
            body,
        })
    }

    /// Follows what browsers do: 303 (and 301/302 after POST) become a body-less GET, and
    /// credentials are not handed to another origin.
    fn redirected(mut self, status: StatusCode, to: Url) -> Self {
        let to_get = (status == StatusCode::SEE_OTHER && self.method != Method::HEAD)
            || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                && self.method == Method::POST);
        if to_get {
            self.method = Method::GET;
            self.body = None;
            self.headers.remove(header::CONTENT_TYPE);
        }
        if self.url.origin() != to.origin() {
            for name in ["authorization", "cookie", "proxy-authorization"] {
                self.headers.remove(name);
            }
        }
        self.url = to;
        self
    }
}

/// Runs `http` tasks. Cheap to clone; share one per process so connections are pooled.
#[derive(Debug, Clone)]
pub struct HttpHandler {
    client: reqwest::Client,
    policy: Arc<HttpPolicy>,
}

impl HttpHandler {
    pub fn new(policy: HttpPolicy) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            // Redirect targets must be re-checked, so we follow them ourselves.
            .redirect(reqwest::redirect::Policy::none())
            // Through a proxy the proxy would resolve the target and our checks would be moot.
            .no_proxy()
            .connect_timeout(policy.connect_timeout)
            .user_agent(policy.user_agent.clone())
            .dns_resolver(CheckingResolver(Arc::clone(&policy)))
            .build()?;
        Ok(Self { client, policy })
    }

    async fn follow(&self, mut hop: Hop) -> Result<Value, HandlerError> {
        for _ in 0..=self.policy.max_redirects {
            check_target(&hop.url, &self.policy)?;
            let mut request = self
                .client
                .request(hop.method.clone(), hop.url.clone())
                .headers(hop.headers.clone());
            if let Some(body) = &hop.body {
                request = request.body(body.clone());
            }
            let response = request.send().await.map_err(classify)?;
            let status = response.status();
            let redirect = matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308);
            let location = response.headers().get(header::LOCATION);
            let (true, Some(location)) = (redirect, location.and_then(|l| l.to_str().ok())) else {
                return self.finish(response).await;
            };
            let next = hop.url.join(location);
            let next = next.map_err(|e| Permanent(format!("bad redirect to {location:?}: {e}")))?;
            hop = hop.redirected(status, next);
        }
        let max = self.policy.max_redirects;
        Err(Permanent(format!("too many redirects (more than {max})")))
    }

    async fn finish(&self, mut response: Response) -> Result<Value, HandlerError> {
        let status = response.status();
        let mut headers = serde_json::Map::new();
        for name in response.headers().keys() {
            let all = response.headers().get_all(name).iter();
            let all: Vec<_> = all.map(|v| String::from_utf8_lossy(v.as_bytes())).collect();
            headers.insert(name.to_string(), all.join(", ").into());
        }
        if status.is_success() {
            let cap = self.policy.max_response_bytes;
            let (body, truncated) = read_capped(&mut response, cap).await.map_err(classify)?;
            return Ok(json!({
                "status": status.as_u16(),
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
                "truncated": truncated,
            }));
        }
        let cap = EXCERPT_BYTES.min(self.policy.max_response_bytes);
        // The status decides the outcome; a body that fails to arrive only costs the excerpt.
        let (excerpt, truncated) = read_capped(&mut response, cap).await.unwrap_or_default();
        let excerpt = String::from_utf8_lossy(&excerpt);
        let ellipsis = if truncated { "…" } else { "" };
        let message = format!("HTTP {status}: {}{ellipsis}", excerpt.trim());
        let retry = status.is_server_error() || matches!(status.as_u16(), 408 | 429);
        Err(failure(retry, message))
    }
}

impl Handler for HttpHandler {
    const TASK_TYPE: &'static str = "http";
    type Payload = HttpPayload;

    async fn run(&self, payload: HttpPayload, _: &dyn Progress) -> Result<Value, HandlerError> {
        let hop = Hop::parse(payload)?;
        let limit = self.policy.request_timeout;
        tokio::time::timeout(limit, self.follow(hop))
            .await
            .unwrap_or_else(|_| Err(Retryable(format!("timed out after {limit:?}"))))
    }

    fn invalid_payload(error: serde_json::Error) -> HandlerError {
        invalid(&error)
    }
}

fn invalid(error: &dyn std::fmt::Display) -> HandlerError {
    Permanent(format!("invalid http payload: {error}"))
}

/// Reads at most `cap` bytes, chunk by chunk, so a huge body is never buffered.
async fn read_capped(response: &mut Response, cap: usize) -> reqwest::Result<(Vec<u8>, bool)> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

fn classify(err: reqwest::Error) -> HandlerError {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return Permanent(refused.to_string());
        }
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    failure(!err.is_builder(), message)
}

fn failure(retryable: bool, message: String) -> HandlerError {
    if retryable {
        Retryable(message)
    } else {
        Permanent(message)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::SeqCst;
    use std::time::Duration;

    use tokio::net::TcpListener;

    use super::test_server::{call, loopback, run, serve};
    use super::*;

    #[tokio::test]
    async fn success_returns_status_headers_and_body() {
        let (port, _) = serve().await;
        // Via the resolver too, and through a redirect.
        for url in [
            format!("http://127.0.0.1:{port}/ok"),
            format!("http://localhost:{port}/redirect"),
        ] {
            let result = call(loopback(), &url).await.expect("success");
            assert_eq!(result["status"], 200, "{url}");
            assert_eq!(result["body"], "hello");
            assert_eq!(result["truncated"], false);
            assert_eq!(result["headers"]["content-type"], "text/plain");
        }
    }

    #[tokio::test]
    async fn big_body_is_truncated_at_the_cap() {
        let (port, _) = serve().await;
        let result = call(loopback(), &format!("http://127.0.0.1:{port}/big")).await;
        let result = result.expect("success");
        assert_eq!(result["body"].as_str().map(str::len), Some(64 * 1024));
        assert_eq!(result["truncated"], true);
    }

    #[tokio::test]
    async fn failures_are_classified() {
        let mut policy = loopback();
        policy.request_timeout = Duration::from_millis(300);
        policy.max_redirects = 3;
        let handler = HttpHandler::new(policy).expect("client");
        // (path, retryable, message contains, connections made)
        let cases = [
            ("/fail", true, "HTTP 500 Internal Server Error: boom", 1),
            ("/busy", true, "slow down", 1),
            ("/nope", false, "HTTP 404 Not Found: no such page", 1),
            ("/slow", true, "timed out", 1),
            ("/loop", false, "too many redirects", 4),
            ("/ftp", false, "refused: ftp://example.com/f", 1),
        ];
        for (path, retryable, needle, connections) in cases {
            let (port, hits) = serve().await;
            let url = format!("http://127.0.0.1:{port}{path}");
            let err = run(&handler, &json!({ "url": url })).await.expect_err(path);
            assert_eq!(err.is_retryable(), retryable, "{path}: {err}");
            assert!(err.to_string().contains(needle), "{path}: {err}");
            assert_eq!(hits.load(SeqCst), connections, "{path}");
        }
        let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/", closed.local_addr().expect("local addr"));
        drop(closed);
        let err = run(&handler, &json!({ "url": url }))
            .await
            .expect_err("closed port");
        assert!(err.is_retryable(), "{err}");
    }

    #[tokio::test]
    async fn bad_payloads_are_permanent() {
        let url = "http://example.com/";
        let payloads = [
            json!({}),
            json!({ "url": 5 }),
            json!({ "url": "not a url" }),
            json!({ "url": "ftp://example.com/" }),
            json!({ "url": "file:///etc/passwd" }),
            json!({ "url": url, "method": "TRACE" }),
            json!({ "url": url, "headers": { "bad name": "x" } }),
            json!({ "url": url, "headers": { "Content-Length": "5" } }),
            json!({ "url": url, "surprise": true }),
        ];
        let handler = HttpHandler::new(HttpPolicy::default()).expect("client");
        for payload in payloads {
            let err = run(&handler, &payload).await.expect_err("invalid");
            assert!(!err.is_retryable(), "{payload}: {err}");
        }
    }
}
