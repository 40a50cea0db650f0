//! The `http` task. Tenants choose the URL, so every address we connect to — after DNS and after
//! each redirect — is checked against the operator's policy; otherwise a task could reach the
//! cloud metadata service or internal admin ports (SSRF).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Response, StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use super::HandlerError::{self, Permanent, Retryable};

/// How much of an error response's body goes into the error message.
const EXCERPT_BYTES: usize = 256;

/// What the operator lets tasks reach.
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    /// 127.0.0.0/8 and ::1 (dev setups call local services)...
    pub allow_loopback: bool,
    /// ... on these ports only, when listed: then only IP-literal URLs (`http://127.0.0.1:PORT`)
    /// reach loopback, since a name's resolution happens where the port is not known. A dev
    /// setup lists a range that holds none of the platform's own ports, so a task cannot reach
    /// the schema registry, the brokers or the services' unauthenticated endpoints.
    pub loopback_ports: LoopbackPorts,
    /// RFC 1918, CGNAT 100.64.0.0/10 and unique-local fc00::/7. Link-local (cloud metadata),
    /// unspecified, multicast, documentation and other reserved ranges are never allowed.
    pub allow_private: bool,
    pub max_response_bytes: usize,
    pub max_redirects: usize,
    pub connect_timeout: Duration,
    /// Deadline for the whole task, all redirect hops and the body included.
    pub request_timeout: Duration,
    pub user_agent: String,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            allow_loopback: false,
            loopback_ports: LoopbackPorts::Any,
            allow_private: false,
            max_response_bytes: 64 * 1024,
            max_redirects: 5,
            connect_timeout: Duration::from_secs(5),
            // A backstop only: the task's own `timeout_ms` (at most 1 h) ends the attempt first, as
            // `timed_out` (30 s here cut longer calls short and counted them as failed).
            request_timeout: Duration::from_secs(3_600),
            user_agent: concat!("taskflow-executor/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Which loopback ports tasks may reach (when loopback is allowed at all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LoopbackPorts {
    #[default]
    Any,
    /// Inclusive ranges, e.g. `18200-18299,8080`.
    Only(Vec<(u16, u16)>),
}

impl LoopbackPorts {
    fn allows(&self, port: u16) -> bool {
        match self {
            LoopbackPorts::Any => true,
            LoopbackPorts::Only(ranges) => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&port))
            }
        }
    }
}

impl std::fmt::Display for LoopbackPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoopbackPorts::Any => f.write_str("any"),
            LoopbackPorts::Only(ranges) => {
                let each: Vec<String> = ranges
                    .iter()
                    .map(|(lo, hi)| {
                        if lo == hi {
                            lo.to_string()
                        } else {
                            format!("{lo}-{hi}")
                        }
                    })
                    .collect();
                f.write_str(&each.join(","))
            }
        }
    }
}

impl std::str::FromStr for LoopbackPorts {
    type Err = String;

    /// `any`, or a comma-separated list of ports and inclusive ranges (`18200-18299,8080`).
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("any") {
            return Ok(LoopbackPorts::Any);
        }
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("{p:?} is not a port (1-65535)"))
        };
        let mut ranges = Vec::new();
        for part in text.split(',') {
            let range = match part.split_once('-') {
                Some((lo, hi)) => (port(lo)?, port(hi)?),
                None => (port(part)?, port(part)?),
            };
            if range.0 > range.1 {
                return Err(format!("{part:?}: the range ends before it starts"));
            }
            ranges.push(range);
        }
        Ok(LoopbackPorts::Only(ranges))
    }
}

enum Scope {
    Global,
    Loopback,
    Private,
    Never,
}

fn scope_v4(ip: Ipv4Addr) -> Scope {
    match ip.octets() {
        [127, ..] => Scope::Loopback,
        [10, ..] | [172, 16..=31, ..] | [192, 168, ..] | [100, 64..=127, ..] => Scope::Private,
        // 0/8 (0.0.0.0 reaches localhost on Linux), multicast, reserved, broadcast, link-local,
        // IETF, documentation, 6to4 relay and benchmarking.
        [0 | 224..=255, ..] | [169, 254, ..] | [192, 0, 0 | 2, _] => Scope::Never,
        [192, 88, 99, _] | [198, 18..=19, ..] | [198, 51, 100, _] | [203, 0, 113, _] => {
            Scope::Never
        }
        _ => Scope::Global,
    }
}

fn scope_v6(ip: Ipv6Addr) -> Scope {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return scope_v4(v4);
    }
    let embedded =
        |hi: u16, lo: u16| scope_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    match ip.segments() {
        [0, 0, 0, 0, 0, 0, 0, 1] => Scope::Loopback,
        // NAT64 and 6to4 carry an IPv4 destination: judge that one.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] | [0x2002, hi, lo, ..] => embedded(hi, lo),
        // 2001::/23 (IETF, Teredo) and 2001:db8::/32 (documentation).
        [0x2001, x, ..] if x < 0x200 || x == 0xdb8 => Scope::Never,
        [x, ..] if x & 0xfe00 == 0xfc00 || x & 0xffc0 == 0xfec0 => Scope::Private,
        [x, ..] if x & 0xe000 == 0x2000 => Scope::Global,
        // ::, IPv4-compatible, link-local fe80::/10, multicast, discard-only, unallocated.
        _ => Scope::Never,
    }
}

/// Whether tasks may connect to `ip` under `policy`.
pub fn is_allowed(ip: IpAddr, policy: &HttpPolicy) -> bool {
    let scope = match ip {
        IpAddr::V4(v4) => scope_v4(v4),
        IpAddr::V6(v6) => scope_v6(v6),
    };
    match scope {
        Scope::Global => true,
        // Through a name (the resolver knows no port): only when any port may be reached.
        Scope::Loopback => policy.allow_loopback && policy.loopback_ports == LoopbackPorts::Any,
        Scope::Private => policy.allow_private,
        Scope::Never => false,
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => matches!(scope_v4(v4), Scope::Loopback),
        IpAddr::V6(v6) => matches!(scope_v6(v6), Scope::Loopback),
    }
}

/// Whether tasks may connect to `ip`:`port` given as an IP literal.
fn is_allowed_literal(ip: IpAddr, port: u16, policy: &HttpPolicy) -> bool {
    if is_loopback(ip) {
        policy.allow_loopback && policy.loopback_ports.allows(port)
    } else {
        is_allowed(ip, policy)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("refused: {0} is a private/loopback/link-local address")]
struct Refused(IpAddr);

/// Checks at connect time the very addresses the connection will use, so a DNS answer that
/// changes between a check and the connect (rebinding) cannot slip through.
struct CheckingResolver(Arc<HttpPolicy>);

impl Resolve for CheckingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.0);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let addrs: Vec<SocketAddr> = addrs.collect();
            // One bad record refuses the name: mixing public and internal answers is a rebinding trick.
            if let Some(bad) = addrs.iter().find(|a| !is_allowed(a.ip(), &policy)) {
                return Err(Box::new(Refused(bad.ip())) as _);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
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
    fn parse(payload: &Value) -> Result<Self, HandlerError> {
        let invalid = |e: &dyn std::fmt::Display| Permanent(format!("invalid http payload: {e}"));
        let p = Payload::deserialize(payload).map_err(|e| invalid(&e))?;
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

    pub async fn run(&self, payload: &Value) -> Result<Value, HandlerError> {
        let hop = Hop::parse(payload)?;
        let limit = self.policy.request_timeout;
        tokio::time::timeout(limit, self.follow(hop))
            .await
            .unwrap_or_else(|_| Err(Retryable(format!("timed out after {limit:?}"))))
    }

    async fn follow(&self, mut hop: Hop) -> Result<Value, HandlerError> {
        for _ in 0..=self.policy.max_redirects {
            self.check_target(&hop.url)?;
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

    fn check_target(&self, url: &Url) -> Result<(), HandlerError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Permanent(format!("refused: {url} is not an http(s) url")));
        }
        // IP literals never reach the resolver, so they are checked here.
        let host = url.host_str().unwrap_or_default();
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let port = url.port_or_known_default().unwrap_or(0);
        if let Ok(ip) = literal.parse::<IpAddr>()
            && !is_allowed_literal(ip, port, &self.policy)
        {
            if is_loopback(ip) && self.policy.allow_loopback {
                return Err(Permanent(format!(
                    "refused: port {port} of {ip} is not one tasks may reach (loopback ports: {})",
                    self.policy.loopback_ports
                )));
            }
            return Err(Permanent(Refused(ip).to_string()));
        }
        Ok(())
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
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    fn canned(path: &str) -> String {
        let (status, extra, body) = match path {
            "/ok" | "/slow" => ("200 OK", "Content-Type: text/plain\r\n", "hello".into()),
            "/big" => ("200 OK", "", "x".repeat(100_000)),
            "/fail" => ("500 Internal Server Error", "", "boom".into()),
            "/busy" => ("429 Too Many Requests", "", "slow down".into()),
            "/redirect" => ("302 Found", "Location: /ok\r\n", String::new()),
            "/loop" => ("302 Found", "Location: /loop\r\n", String::new()),
            "/ftp" => (
                "302 Found",
                "Location: ftp://example.com/f\r\n",
                String::new(),
            ),
            _ => ("404 Not Found", "", "no such page".into()),
        };
        let framing = format!("Content-Length: {}\r\nConnection: close", body.len());
        format!("HTTP/1.1 {status}\r\n{extra}{framing}\r\n\r\n{body}")
    }

    /// Serves one canned response per connection on loopback; counts the connections.
    async fn serve() -> (u16, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, SeqCst);
                tokio::spawn(async move {
                    // reqwest sends a small request head in one write; one read gets it.
                    let mut buf = [0u8; 4096];
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("/");
                    if path == "/slow" {
                        tokio::time::sleep(Duration::from_secs(10)).await;
                    }
                    let _ = socket.write_all(canned(path).as_bytes()).await;
                });
            }
        });
        (port, hits)
    }

    fn allowing(allow_loopback: bool, allow_private: bool) -> HttpPolicy {
        let default = HttpPolicy::default();
        HttpPolicy {
            allow_loopback,
            allow_private,
            ..default
        }
    }

    fn loopback() -> HttpPolicy {
        allowing(true, false)
    }

    async fn call(policy: HttpPolicy, url: &str) -> Result<Value, HandlerError> {
        let handler = HttpHandler::new(policy).expect("client");
        handler.run(&json!({ "url": url })).await
    }

    #[tokio::test]
    async fn listed_loopback_ports_are_reached_by_ip_and_nothing_else_on_loopback() {
        let (port, hits) = serve().await;
        let mut policy = loopback();
        policy.loopback_ports = LoopbackPorts::Only(vec![(port, port)]);
        let result = call(policy.clone(), &format!("http://127.0.0.1:{port}/ok"))
            .await
            .expect("a listed port");
        assert_eq!(result["status"], 200);
        // Another loopback port (the schema registry's in a dev setup): refused, no connection.
        let other = if port == 18081 { 18082 } else { 18081 };
        let before = hits.load(SeqCst);
        let err = call(
            policy.clone(),
            &format!("http://127.0.0.1:{other}/apis/registry/v3"),
        )
        .await
        .expect_err("an unlisted port");
        assert!(
            matches!(&err, Permanent(m) if m.contains(&format!("port {other} of 127.0.0.1 is not one tasks may reach")) && m.contains(&port.to_string())),
            "{err:?}"
        );
        // By name the port cannot be checked where the address is: refused even when listed.
        let err = call(policy.clone(), &format!("http://localhost:{port}/ok"))
            .await
            .expect_err("a name");
        assert!(
            matches!(&err, Permanent(m) | Retryable(m) if m.contains("refused")),
            "{err:?}"
        );
        assert_eq!(hits.load(SeqCst), before, "nothing reached the server");
        // The ports' spelling.
        assert_eq!(
            "18200-18299, 8080".parse::<LoopbackPorts>(),
            Ok(LoopbackPorts::Only(vec![(18200, 18299), (8080, 8080)]))
        );
        assert_eq!("any".parse::<LoopbackPorts>(), Ok(LoopbackPorts::Any));
        for bad in ["", "0", "70000", "9-3", "x"] {
            assert!(bad.parse::<LoopbackPorts>().is_err(), "{bad:?}");
        }
    }

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
            let err = handler.run(&json!({ "url": url })).await.expect_err(path);
            assert_eq!(err.is_retryable(), retryable, "{path}: {err}");
            assert!(err.to_string().contains(needle), "{path}: {err}");
            assert_eq!(hits.load(SeqCst), connections, "{path}");
        }
        let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/", closed.local_addr().expect("local addr"));
        drop(closed);
        let err = handler
            .run(&json!({ "url": url }))
            .await
            .expect_err("closed port");
        assert!(err.is_retryable(), "{err}");
    }

    #[tokio::test]
    async fn internal_targets_are_refused_before_connecting() {
        let (port, hits) = serve().await;
        let urls = [
            format!("http://127.0.0.1:{port}/ok"),
            format!("http://localhost:{port}/ok"),
            format!("http://[::ffff:127.0.0.1]:{port}/ok"),
            format!("http://2130706433:{port}/ok"), // 127.0.0.1 spelled as a number
            "http://[::1]/".into(),
            "http://10.0.0.1/".into(),
            "http://169.254.169.254/latest/meta-data/".into(),
            "http://192.168.1.1/".into(),
        ];
        let handler = HttpHandler::new(HttpPolicy::default()).expect("client");
        for url in urls {
            let err = handler.run(&json!({ "url": url })).await.expect_err(&url);
            let refused = "is a private/loopback/link-local address";
            assert!(
                matches!(&err, Permanent(m) if m.starts_with("refused: ") && m.ends_with(refused)),
                "{url}: {err}"
            );
        }
        assert_eq!(hits.load(SeqCst), 0);
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
            let err = handler.run(&payload).await.expect_err("invalid");
            assert!(!err.is_retryable(), "{payload}: {err}");
        }
    }

    #[test]
    fn classifier() {
        let policies = [HttpPolicy::default(), loopback(), allowing(false, true)];
        // Allowed by: the default policy, allow_loopback, allow_private.
        let table = [
            (
                [true, true, true],
                "8.8.8.8 172.32.0.1 2606:4700:4700::1111",
            ),
            (
                [false, true, false],
                "127.0.0.1 ::1 ::ffff:127.0.0.1 2002:7f00:1::",
            ),
            (
                [false, false, true],
                "10.1.2.3 172.16.0.1 192.168.1.1 100.64.0.1",
            ),
            ([false, false, true], "fc00::1 fd12::1 ::ffff:10.0.0.1"),
            (
                [false, false, false],
                "169.254.169.254 fe80::1 0.0.0.0 :: 255.255.255.255",
            ),
            (
                [false, false, false],
                "224.0.0.1 ff02::1 192.0.2.1 2001:db8::1 64:ff9b::a9fe:a9fe",
            ),
        ];
        for (expected, ips) in table {
            for ip in ips.split_whitespace() {
                let ip: IpAddr = ip.parse().expect("ip");
                let allowed = policies.each_ref().map(|p| is_allowed(ip, p));
                assert_eq!(allowed, expected, "{ip}");
            }
        }
    }
}
