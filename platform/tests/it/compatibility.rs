use std::path::{Path, PathBuf};

use taskflow_platform::registry::{RegistryClient, RegistryError};
use taskflow_platform::schema_check::{SchemaCheckError, check_and_register, load_dir};

use crate::helpers::TestBus;

fn contracts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/avro")
}

/// A copy of the contracts with TaskCreated edited by `edit`.
fn edited_copy(bus: &TestBus, label: &str, edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("taskflow-it-{}-{label}", bus.id));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for entry in std::fs::read_dir(contracts_dir()).expect("contracts") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("readable");
        let mut schema: serde_json::Value = serde_json::from_str(&text).expect("json");
        if path.file_name().is_some_and(|n| n == "TaskCreated.avsc") {
            edit(&mut schema);
        }
        std::fs::write(
            dir.join(path.file_name().expect("name")),
            schema.to_string(),
        )
        .expect("written");
    }
    dir
}

fn add_field(field: serde_json::Value) -> impl Fn(&mut serde_json::Value) {
    move |schema| {
        schema["fields"]
            .as_array_mut()
            .expect("fields")
            .push(field.clone());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_registry_enforces_backward_compatibility_on_every_contract() {
    let bus = TestBus::start().await;
    let client = RegistryClient::new(&bus.registry);
    assert_eq!(
        client.global_compatibility().await.expect("config"),
        "BACKWARD"
    );

    let files = load_dir(&contracts_dir()).expect("contracts load");
    assert_eq!(files.len(), taskflow_schemas::EventKind::ALL.len());
    let first = check_and_register(&client, &bus.kafka.topics, &files)
        .await
        .expect("registered");
    assert_eq!(first.len(), files.len());
    // Registering the same contracts again is a no-op with the same ids.
    let again = check_and_register(&client, &bus.kafka.topics, &files)
        .await
        .expect("registered");
    assert_eq!(first, again);

    // A new required field cannot read old records: refused, with the registry's reasons.
    let breaking = edited_copy(
        &bus,
        "breaking",
        add_field(serde_json::json!({"name": "region", "type": "string"})),
    );
    let refused = check_and_register(
        &client,
        &bus.kafka.topics,
        &load_dir(&breaking).expect("load"),
    )
    .await;
    let Err(SchemaCheckError::Incompatible(problems)) = refused else {
        panic!("breaking change accepted: {refused:?}");
    };
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0]
            .subject
            .ends_with("-io.taskflow.events.TaskCreated"),
        "{}",
        problems[0].subject
    );
    assert!(
        !problems[0].messages.is_empty(),
        "the registry gave no reason"
    );

    // Registering it directly is refused by the registry too.
    let task_created = load_dir(&breaking)
        .expect("load")
        .into_iter()
        .find(|f| f.path.ends_with("TaskCreated.avsc"))
        .expect("file");
    let direct = client
        .register(&task_created.subject(&bus.kafka.topics), &task_created.text)
        .await;
    assert!(
        matches!(direct, Err(RegistryError::Incompatible { .. })),
        "{direct:?}"
    );

    // An optional field with a default is a compatible evolution and becomes a new version.
    let compatible = edited_copy(
        &bus,
        "compatible",
        add_field(
            serde_json::json!({"name": "region", "type": ["null", "string"], "default": null}),
        ),
    );
    let evolved = check_and_register(
        &client,
        &bus.kafka.topics,
        &load_dir(&compatible).expect("load"),
    )
    .await
    .expect("compatible change accepted");
    let changed: Vec<_> = first
        .iter()
        .zip(&evolved)
        .filter(|(a, b)| a.id != b.id)
        .collect();
    assert_eq!(changed.len(), 1, "only TaskCreated gets a new schema id");

    let _ = std::fs::remove_dir_all(breaking);
    let _ = std::fs::remove_dir_all(compatible);
}
