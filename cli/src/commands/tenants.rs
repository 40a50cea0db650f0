//! `tenants …` with the admin token (svc-tasks' `/v1/admin/tenants` routes).

use serde_json::{Map, Value, json};

use crate::api::Api;
use crate::cli::{KeyCommand, TenantCommand};
use crate::config::Settings;
use crate::error::usage;
use crate::output;

pub fn admin_api(settings: &Settings) -> anyhow::Result<Api> {
    Api::new(&settings.api_url()?, &settings.admin_token()?)
}

/// A limit flag of `tenants update`: a number, or `none` for no limit (JSON null).
fn limit(flag: &str, text: &str) -> anyhow::Result<Value> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(Value::Null);
    }
    text.parse::<i32>()
        .map(Value::from)
        .map_err(|_| usage(format!("{flag} {text:?}: a number, or none")))
}

fn show(settings: &Settings, value: &Value) {
    if settings.json() {
        output::json(value);
    } else {
        output::key_values(value);
    }
}

pub async fn run(settings: &Settings, command: &TenantCommand) -> anyhow::Result<()> {
    let api = admin_api(settings)?;
    match command {
        TenantCommand::Create(args) => {
            let mut quotas = Map::new();
            if let Some(n) = args.max_active_tasks {
                quotas.insert("max_active_tasks".into(), n.into());
            }
            if let Some(n) = args.submissions_per_minute {
                quotas.insert("submissions_per_minute".into(), n.into());
            }
            let mut body = json!({"name": args.name, "quotas": quotas});
            if let Some(p) = &args.allowed_priorities {
                body["allowed_priorities"] = json!(p);
            }
            let created = api.post("/v1/admin/tenants", Some(&body)).await?.body;
            show(settings, &created);
            if !settings.json() {
                eprintln!("(the api_key is shown once; keep it)");
            }
        }
        TenantCommand::Get { id } => {
            show(
                settings,
                &api.get(&format!("/v1/admin/tenants/{id}")).await?,
            );
        }
        TenantCommand::Update { id, limits } => {
            let mut quotas = Map::new();
            if let Some(t) = &limits.max_active_tasks {
                quotas.insert("max_active_tasks".into(), limit("--max-active-tasks", t)?);
            }
            if let Some(t) = &limits.submissions_per_minute {
                quotas.insert(
                    "submissions_per_minute".into(),
                    limit("--submissions-per-minute", t)?,
                );
            }
            let mut body = json!({"quotas": quotas});
            if let Some(p) = &limits.allowed_priorities {
                body["allowed_priorities"] = if p.eq_ignore_ascii_case("all") {
                    Value::Null
                } else {
                    json!(p.split(',').map(str::trim).collect::<Vec<_>>())
                };
            }
            show(
                settings,
                &api.patch(&format!("/v1/admin/tenants/{id}"), &body).await?,
            );
        }
        TenantCommand::Keys(KeyCommand::Issue { tenant_id }) => {
            let issued = api
                .post(&format!("/v1/admin/tenants/{tenant_id}/keys"), None)
                .await?
                .body;
            show(settings, &issued);
        }
        TenantCommand::Keys(KeyCommand::Revoke { tenant_id, key_id }) => {
            api.delete(&format!("/v1/admin/tenants/{tenant_id}/keys/{key_id}"))
                .await?;
            if settings.json() {
                output::json(&json!({"revoked": key_id, "tenant_id": tenant_id}));
            } else {
                println!("key {key_id} revoked");
            }
        }
    }
    Ok(())
}
