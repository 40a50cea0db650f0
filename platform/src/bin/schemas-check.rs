//! Registers every Avro contract under `schemas/avro` (or the directory given) with the schema
//! registry, after checking each is compatible with the subject's latest version.

use std::path::PathBuf;
use std::process::ExitCode;

use taskflow_platform::registry::RegistryClient;
use taskflow_platform::schema_check::{check_and_register, load_dir};
use taskflow_platform::{KafkaSettings, RegistrySettings};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("schemas-check: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("schemas/avro"));
    let registry = RegistrySettings::from_env()?;
    let topics = KafkaSettings::from_env()?.topics;
    let client = RegistryClient::new(&registry);
    let rule = client.global_compatibility().await?;
    let files = load_dir(&dir)?;
    let registered = check_and_register(&client, &topics, &files).await?;
    println!("registry {} (global compatibility {rule})", registry.url);
    for r in registered {
        println!("  ok  id {:>4}  {}", r.id, r.subject);
    }
    Ok(())
}
