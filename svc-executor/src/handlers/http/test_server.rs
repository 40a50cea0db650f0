//! Unit tests only: a loopback server with canned answers, and the policies and calls the
//! handler's and the policy's tests share.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{HttpHandler, HttpPolicy};
use crate::handlers::{HandlerError, NoProgress, Registered};

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
pub async fn serve() -> (u16, Arc<AtomicUsize>) {
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

pub fn allowing(allow_loopback: bool, allow_private: bool) -> HttpPolicy {
    let default = HttpPolicy::default();
    HttpPolicy {
        allow_loopback,
        allow_private,
        ..default
    }
}

pub fn loopback() -> HttpPolicy {
    allowing(true, false)
}

/// Runs `payload` as the registry does: read as the handler's payload type first.
pub async fn run(handler: &HttpHandler, payload: &Value) -> Result<Value, HandlerError> {
    Registered::run(handler, payload, &NoProgress).await
}

/// Runs a GET of `url` under `policy`.
pub async fn call(policy: HttpPolicy, url: &str) -> Result<Value, HandlerError> {
    let handler = HttpHandler::new(policy).expect("client");
    run(&handler, &json!({ "url": url })).await
}
