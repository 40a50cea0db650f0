//! `make schemas-check`: every `.avsc` must be a known event, compatible with what the registry
//! already holds for its subject; only when all are does anything get registered.

use std::path::{Path, PathBuf};

use taskflow_schemas::{EventKind, Topics};

use crate::registry::{RegistryClient, RegistryError};

#[derive(Debug, thiserror::Error)]
pub enum SchemaCheckError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid Avro schema: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: Box<apache_avro::Error>,
    },
    #[error("{path} defines {name}, which is not in the event catalogue (taskflow-schemas)")]
    NotInCatalogue { path: PathBuf, name: String },
    #[error("{} incompatible with the registry:\n{}", .0.len(), .0.iter().map(|i| format!("  {}: {}", i.subject, i.messages.join("; "))).collect::<Vec<_>>().join("\n"))]
    Incompatible(Vec<Incompatibility>),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

#[derive(Debug, Clone)]
pub struct Incompatibility {
    pub subject: String,
    pub messages: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SchemaFile {
    pub path: PathBuf,
    pub kind: EventKind,
    pub text: String,
}

impl SchemaFile {
    /// Subject under TopicRecordNameStrategy: `<topic>-<record full name>`.
    pub fn subject(&self, topics: &Topics) -> String {
        format!(
            "{}-{}",
            topics.name(self.kind.stream()),
            self.kind.full_name()
        )
    }
}

/// Reads every `*.avsc` in `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<SchemaFile>, SchemaCheckError> {
    let read_err = |source| SchemaCheckError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "avsc"))
        .collect();
    paths.sort();
    paths.into_iter().map(|path| load_file(&path)).collect()
}

fn load_file(path: &Path) -> Result<SchemaFile, SchemaCheckError> {
    let text = std::fs::read_to_string(path).map_err(|source| SchemaCheckError::Read {
        path: path.to_owned(),
        source,
    })?;
    let schema =
        apache_avro::Schema::parse_str(&text).map_err(|source| SchemaCheckError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
    let name = schema
        .name()
        .map(|n| n.fullname(None))
        .unwrap_or_else(|| "<unnamed>".into());
    let kind =
        EventKind::from_full_name(&name).ok_or_else(|| SchemaCheckError::NotInCatalogue {
            path: path.to_owned(),
            name,
        })?;
    Ok(SchemaFile {
        path: path.to_owned(),
        kind,
        text,
    })
}

/// Some registries (Apicurio) answer a compatibility check with a bare `false`. Their refusal
/// of the registration itself names the offending fields, and being a refusal it changes nothing.
async fn reason_for_refusal(
    client: &RegistryClient,
    subject: &str,
    schema: &str,
) -> Result<Vec<String>, SchemaCheckError> {
    match client.register(subject, schema).await {
        Err(RegistryError::Incompatible { message, .. }) => Ok(vec![message]),
        Err(other) => Err(other.into()),
        Ok(id) => Ok(vec![format!(
            "the registry called the schema incompatible, yet registered it as id {id}"
        )]),
    }
}

/// One registered subject and its schema id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub subject: String,
    pub id: u32,
}

/// Checks all files first, then registers all of them.
pub async fn check_and_register(
    client: &RegistryClient,
    topics: &Topics,
    files: &[SchemaFile],
) -> Result<Vec<Registered>, SchemaCheckError> {
    let mut incompatible = Vec::new();
    for file in files {
        let subject = file.subject(topics);
        let answer = client.check_compatibility(&subject, &file.text).await?;
        if !answer.is_compatible {
            let messages = if answer.messages.is_empty() {
                reason_for_refusal(client, &subject, &file.text).await?
            } else {
                answer.messages
            };
            incompatible.push(Incompatibility { subject, messages });
        }
    }
    if !incompatible.is_empty() {
        return Err(SchemaCheckError::Incompatible(incompatible));
    }
    let mut registered = Vec::with_capacity(files.len());
    for file in files {
        let subject = file.subject(topics);
        let id = client.register(&subject, &file.text).await?;
        registered.push(Registered { subject, id });
    }
    Ok(registered)
}
