//! A service started before its database is reachable waits for it (with backoff) instead of
//! exiting, and serves once it is there.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use svc_scheduler::config::SchedulerConfig;
use svc_scheduler::startup::Application;
use taskflow_platform::testing::Isolation;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::wait_until;

/// A stand-in for PostgreSQL's port: closes every connection until `open`, then forwards to
/// the real server. Counts the connections it turned away.
struct Gate {
    port: u16,
    open: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
}

impl Gate {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let open = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(AtomicUsize::new(0));
        let (is_open, turned_away) = (open.clone(), refused.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !is_open.load(Ordering::SeqCst) {
                    turned_away.fetch_add(1, Ordering::SeqCst);
                    drop(client);
                    continue;
                }
                let target = target.clone();
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self {
            port,
            open,
            refused,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_started_before_its_database_waits_for_it() {
    let isolation = Isolation::new();
    let database_url = isolation.database("sched").await;
    // postgres://user:pass@host:port/db → the same through the gate.
    let (head, rest) = database_url
        .split_once('@')
        .expect("a URL with credentials");
    let (address, path) = rest.split_once('/').expect("a database name");
    let gate = Gate::start(address.to_owned()).await;
    let gated_url = format!("{head}@127.0.0.1:{}/{path}", gate.port);

    let config = SchedulerConfig {
        bind: "127.0.0.1:0".into(),
        workers: 1,
        database_url: gated_url,
        db_pool_size: 4,
        consumer_group: isolation.group("svc-scheduler"),
        max_per_second: 1.0,
        retention: std::time::Duration::from_secs(720 * 3600),
        maintenance: Default::default(),
        admin_token: Default::default(),
        kafka: isolation.kafka,
        registry: isolation.registry,
    };
    let starting = tokio::spawn(Application::build(config));

    // It keeps trying while the database turns it away...
    wait_until(
        Duration::from_secs(30),
        "three attempts to reach the database",
        || async { (gate.refused.load(Ordering::SeqCst) >= 3).then_some(()) },
    )
    .await;
    assert!(!starting.is_finished(), "still waiting, not given up");

    // ... and starts once it is reachable.
    gate.open.store(true, Ordering::SeqCst);
    let app = tokio::time::timeout(Duration::from_secs(30), starting)
        .await
        .expect("started within 30 s of the database coming back")
        .expect("joined")
        .expect("built");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let live = reqwest::get(format!("{base}/health/live"))
        .await
        .expect("live");
    assert!(live.status().is_success());
}
