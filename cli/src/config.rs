//! Settings in three layers: flags, then the environment (both through clap), then a profile
//! file. The file is optional TOML with the same names in snake case at the top level, and
//! `[profiles.NAME]` sections chosen with `--profile` that override the top level:
//!
//! ```toml
//! api_url = "http://127.0.0.1:18090"
//! api_key = "tfk_..."
//! [profiles.staging]
//! api_url = "https://tasks.staging.example"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use taskflow_schemas::Topics;

use crate::cli::{Global, Output};
use crate::error::usage;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    api_url: Option<String>,
    api_key: Option<String>,
    admin_token: Option<String>,
    notify_url: Option<String>,
    scheduler_url: Option<String>,
    kafka_bootstrap_servers: Option<String>,
    schema_registry_url: Option<String>,
    topic_prefix: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, FileSettings>,
}

impl FileSettings {
    fn over(self, base: FileSettings) -> FileSettings {
        FileSettings {
            api_url: self.api_url.or(base.api_url),
            api_key: self.api_key.or(base.api_key),
            admin_token: self.admin_token.or(base.admin_token),
            notify_url: self.notify_url.or(base.notify_url),
            scheduler_url: self.scheduler_url.or(base.scheduler_url),
            kafka_bootstrap_servers: self
                .kafka_bootstrap_servers
                .or(base.kafka_bootstrap_servers),
            schema_registry_url: self.schema_registry_url.or(base.schema_registry_url),
            topic_prefix: self.topic_prefix.or(base.topic_prefix),
            profiles: BTreeMap::new(),
        }
    }
}

/// Everything a command may need; each getter says how to provide a missing value.
#[derive(Debug, Clone)]
pub struct Settings {
    /// As asked; `None`: each command's default.
    pub output: Option<Output>,
    api_url: Option<String>,
    api_key: Option<String>,
    admin_token: Option<String>,
    notify_url: Option<String>,
    scheduler_url: Option<String>,
    kafka: Option<String>,
    registry: Option<String>,
    topic_prefix: String,
}

fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("taskflow").join("config.toml"))
}

fn read_file(path: &Path, explicit: bool) -> anyhow::Result<FileSettings> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok(FileSettings::default());
        }
        Err(e) => return Err(usage(format!("cannot read {}: {e}", path.display()))),
    };
    toml::from_str(&text).map_err(|e| usage(format!("{} is not valid: {e}", path.display())))
}

fn clean(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl Settings {
    pub fn resolve(global: &Global) -> anyhow::Result<Self> {
        let (path, explicit) = match &global.config {
            Some(path) => (Some(path.clone()), true),
            None => (default_path(), false),
        };
        let mut file = match &path {
            Some(path) => read_file(path, explicit)?,
            None => FileSettings::default(),
        };
        if let Some(name) = &global.profile {
            let Some(profile) = file.profiles.remove(name) else {
                let known: Vec<&String> = file.profiles.keys().collect();
                return Err(usage(format!(
                    "no profile {name:?} in {} (profiles there: {known:?})",
                    path.map(|p| p.display().to_string())
                        .unwrap_or_else(|| "the profile file".into())
                )));
            };
            file = profile.over(file);
        }
        let pick = |flag: &Option<String>, from_file: Option<String>| {
            clean(flag.clone()).or_else(|| clean(from_file))
        };
        Ok(Self {
            output: global.output,
            api_url: pick(&global.api_url, file.api_url),
            api_key: pick(&global.api_key, file.api_key),
            admin_token: pick(&global.admin_token, file.admin_token),
            notify_url: pick(&global.notify_url, file.notify_url),
            scheduler_url: pick(&global.scheduler_url, file.scheduler_url),
            kafka: pick(&global.kafka, file.kafka_bootstrap_servers),
            registry: pick(&global.registry, file.schema_registry_url),
            topic_prefix: global
                .topic_prefix
                .clone()
                .or(file.topic_prefix)
                .unwrap_or_default(),
        })
    }

    /// JSON for commands whose default is a table.
    pub fn json(&self) -> bool {
        self.output == Some(Output::Json)
    }

    /// JSON for commands whose default is JSON lines (tap).
    pub fn json_lines(&self) -> bool {
        self.output != Some(Output::Table)
    }

    pub fn api_url(&self) -> anyhow::Result<String> {
        need(&self.api_url, "--api-url", "TASKFLOW_API_URL", "api_url")
    }

    pub fn api_key(&self) -> anyhow::Result<String> {
        need(&self.api_key, "--api-key", "TASKFLOW_API_KEY", "api_key")
    }

    pub fn admin_token(&self) -> anyhow::Result<String> {
        need(
            &self.admin_token,
            "--admin-token",
            "TASKFLOW_ADMIN_TOKEN",
            "admin_token",
        )
    }

    pub fn notify_url(&self) -> anyhow::Result<String> {
        need(
            &self.notify_url,
            "--notify-url",
            "TASKFLOW_NOTIFY_URL",
            "notify_url",
        )
    }

    pub fn scheduler_url(&self) -> anyhow::Result<String> {
        need(
            &self.scheduler_url,
            "--scheduler-url",
            "TASKFLOW_SCHEDULER_URL",
            "scheduler_url",
        )
    }

    pub fn kafka(&self) -> anyhow::Result<String> {
        need(
            &self.kafka,
            "--kafka",
            "KAFKA_BOOTSTRAP_SERVERS",
            "kafka_bootstrap_servers",
        )
    }

    pub fn registry(&self) -> anyhow::Result<String> {
        need(
            &self.registry,
            "--registry",
            "SCHEMA_REGISTRY_URL",
            "schema_registry_url",
        )
        .map(|url| url.trim_end_matches('/').to_owned())
    }

    pub fn topics(&self) -> Topics {
        Topics::new(self.topic_prefix.clone())
    }
}

fn need(value: &Option<String>, flag: &str, env: &str, key: &str) -> anyhow::Result<String> {
    value.clone().ok_or_else(|| {
        usage(format!(
            "{env} is not set: pass {flag}, export {env} (source .taskflow/dev.env after `make up`), or put {key} in ~/.config/taskflow/config.toml"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_overrides_the_top_level_and_keeps_the_rest() {
        let mut file: FileSettings = toml::from_str(
            r#"
            api_url = "http://a"
            api_key = "k"
            [profiles.staging]
            api_url = "http://b"
            "#,
        )
        .expect("valid toml");
        let staging = file.profiles.remove("staging").expect("profile");
        let merged = staging.over(file);
        assert_eq!(merged.api_url.as_deref(), Some("http://b"));
        assert_eq!(merged.api_key.as_deref(), Some("k"));
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        assert!(toml::from_str::<FileSettings>("api_ulr = \"x\"").is_err());
    }
}
