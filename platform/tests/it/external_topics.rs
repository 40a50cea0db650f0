//! `TASKFLOW_CREATE_TOPICS=false` against the real broker: topics managed outside TaskFlow
//! (Strimzi `KafkaTopic`s) are looked up, never created; a missing one is named, with the
//! setting, in the one error line a service stops with.

use std::collections::BTreeSet;
use std::time::Duration;

use taskflow_platform::KafkaSettings;
use taskflow_platform::db::PLATFORM_MIGRATIONS;
use taskflow_platform::runtime::{Connect, Identity, Runtime};
use taskflow_platform::testing::Isolation;
use taskflow_platform::topic_admin::{
    TopicAdminError, ensure_topics, existing_topics, prepare_topics,
};
use taskflow_schemas::Stream;

/// A test's own topic names (prefix `it-<id>.`) with creating them switched off, and the
/// dead-letter topic of its consumer group.
fn managed_elsewhere() -> (Isolation, String, String) {
    let mut isolation = Isolation::new();
    isolation.kafka.create_topics = false;
    let group = isolation.group("svc");
    let dead_letter = isolation.kafka.topics.dead_letter(&group);
    (isolation, group, dead_letter)
}

fn all_names(kafka: &KafkaSettings, dead_letter: &str) -> BTreeSet<String> {
    Stream::ALL
        .iter()
        .map(|s| kafka.topics.name(*s))
        .chain([dead_letter.to_owned()])
        .collect()
}

/// The topics under this test's prefix (`it-<id>.`) that the broker has.
async fn on_the_broker(isolation: &Isolation) -> BTreeSet<String> {
    let prefix = format!("it-{}.", isolation.id);
    existing_topics(&isolation.kafka.bootstrap_servers, Duration::from_secs(10))
        .await
        .expect("metadata")
        .into_iter()
        .filter(|t| t.starts_with(&prefix))
        .collect()
}

fn missing_of(result: Result<(), TopicAdminError>) -> (Vec<String>, String) {
    let error = result.expect_err("topics are missing");
    let line = error.to_string();
    match error {
        TopicAdminError::Missing { topics, .. } => (topics, line),
        other => panic!("expected the missing topics, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_no_topic_there_every_one_is_named_with_the_setting_and_none_is_created() {
    let (isolation, _, dead_letter) = managed_elsewhere();
    let kafka = &isolation.kafka;

    let (missing, line) =
        missing_of(prepare_topics(kafka, std::slice::from_ref(&dead_letter)).await);

    assert_eq!(
        missing.iter().cloned().collect::<BTreeSet<_>>(),
        all_names(kafka, &dead_letter)
    );
    assert!(!line.contains('\n'), "one line: {line}");
    for name in &missing {
        assert!(line.contains(name.as_str()), "{name} not named in: {line}");
    }
    assert!(
        line.contains("TASKFLOW_CREATE_TOPICS=false") && line.contains(&kafka.bootstrap_servers),
        "the setting and the broker not named in: {line}"
    );
    // Created topics show in the metadata at once; give a broker-side auto-create time anyway.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        on_the_broker(&isolation).await,
        BTreeSet::new(),
        "topics created"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_topic_the_operator_left_out_is_named_and_it_stays_missing() {
    let (isolation, _, dead_letter) = managed_elsewhere();
    let kafka = &isolation.kafka;
    // The operator's part: the streams, but not the group's dead-letter topic.
    ensure_topics(kafka, &[]).await.expect("streams created");

    let (missing, _) = missing_of(prepare_topics(kafka, std::slice::from_ref(&dead_letter)).await);

    assert_eq!(missing, std::slice::from_ref(&dead_letter));
    let mut streams_only = all_names(kafka, &dead_letter);
    streams_only.remove(&dead_letter);
    assert_eq!(on_the_broker(&isolation).await, streams_only);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_every_topic_there_verifying_passes_and_creates_nothing() {
    let (isolation, _, dead_letter) = managed_elsewhere();
    let kafka = &isolation.kafka;
    ensure_topics(kafka, std::slice::from_ref(&dead_letter))
        .await
        .expect("the operator's topics");
    let before = on_the_broker(&isolation).await;
    assert_eq!(before, all_names(kafka, &dead_letter));

    prepare_topics(kafka, std::slice::from_ref(&dead_letter))
        .await
        .expect("every topic is there");
    // An extra topic nobody created: verifying asks no broker to create it either.
    let stray = kafka.topics.dead_letter("nobody");
    assert!(prepare_topics(kafka, &[stray]).await.is_err());

    assert_eq!(on_the_broker(&isolation).await, before);
}

fn connect<'a>(isolation: &'a Isolation, database_url: &'a str, group: &'a str) -> Connect<'a> {
    Connect {
        identity: Identity {
            service: "svc-it",
            version: "0",
            instance: format!("it-{}", isolation.id),
        },
        kafka: &isolation.kafka,
        registry: &isolation.registry,
        database_url,
        pool_size: 2,
        migrations: PLATFORM_MIGRATIONS,
        consumer_group: group,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_whose_topics_are_missing_does_not_start_and_says_why() {
    let (isolation, group, dead_letter) = managed_elsewhere();
    let database_url = isolation.database("topics").await;

    let error = match Runtime::connect(connect(&isolation, &database_url, &group)).await {
        Ok(_) => panic!("started without its topics"),
        Err(error) => format!("{error:#}"),
    };

    assert!(
        error.contains(&dead_letter) && error.contains("TASKFLOW_CREATE_TOPICS"),
        "{error}"
    );
    assert_eq!(on_the_broker(&isolation).await, BTreeSet::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_whose_topics_exist_starts_with_its_loops_running_at_once() {
    let (isolation, group, dead_letter) = managed_elsewhere();
    ensure_topics(&isolation.kafka, std::slice::from_ref(&dead_letter))
        .await
        .expect("the operator's topics");
    let before = on_the_broker(&isolation).await;
    let database_url = isolation.database("topics").await;

    let mut runtime = Runtime::connect(connect(&isolation, &database_url, &group))
        .await
        .expect("started");
    let (began, mut begun) = tokio::sync::oneshot::channel();
    runtime.spawn_after_topics(move |_stop| async move {
        let _ = began.send(());
    });
    // Verified before `connect` returned: no background retry stands between it and the loops.
    tokio::time::timeout(Duration::from_secs(1), &mut begun)
        .await
        .expect("a loop waiting for the topics began at once")
        .expect("sent");
    runtime.into_running().stop().await;

    assert_eq!(on_the_broker(&isolation).await, before);
}
