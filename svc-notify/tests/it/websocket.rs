use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_websocket_carries_the_same_feed_with_the_same_resume_cursor() {
    let app = TestNotify::spawn().await;
    let tenant = app.tenant().await;
    let task = app.task_life(&tenant, 2, true).await;
    app.known(&tenant, task, 5).await;
    let token = app.token(&tenant, None).await;
    let ws_url = app
        .url(&format!("/v1/ws?after=2&token={token}"))
        .replacen("http", "ws", 1);
    let request = ws_url.into_client_request().expect("request");
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connected");
    let mut seqs = Vec::new();
    while seqs.len() < 3 {
        let message = socket.next().await.expect("open").expect("message");
        if let Message::Text(text) = message {
            let body: Value = serde_json::from_str(&text).expect("json");
            assert_eq!(body["kind"], "task");
            seqs.push(body["seq"].as_i64().expect("seq"));
        }
    }
    assert_eq!(seqs, [3, 4, 5], "resumed after 2");
    let next = app.task_life(&tenant, 0, false).await;
    let live = loop {
        if let Message::Text(text) = socket.next().await.expect("open").expect("message") {
            break serde_json::from_str::<Value>(&text).expect("json");
        }
    };
    assert_eq!(live["seq"], 6);
    assert_eq!(live["task_id"], next.to_string());
    socket.close(None).await.expect("closed");
    let _ = socket.send(Message::Ping(Default::default())).await;
}
