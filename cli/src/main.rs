//! `taskflow`: TaskFlow from a terminal. See `taskflow --help` and docs/cli.md.

mod api;
mod cli;
mod commands;
mod config;
mod error;
mod input;
mod kafka;
mod output;
mod sse;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::commands::{batch, dlq, schedules, tap, tasks, tenants, watch};
use crate::config::Settings;
use crate::error::{ApiProblem, Failed, exit_code};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&error);
            ExitCode::from(exit_code(&error))
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::resolve(&cli.global)?;
    match &cli.command {
        Command::Submit(args) => match (&args.batch, &args.task_type) {
            (Some(path), _) => batch::submit_batch(&settings, args, path).await,
            (None, Some(task_type)) => {
                let id = tasks::submit_one(&settings, args, task_type).await?;
                if args.wait {
                    watch::watch_task(&settings, id).await?;
                }
                Ok(())
            }
            (None, None) => Err(error::usage("give a task type or --batch FILE")),
        },
        Command::Get { id } => tasks::get(&settings, *id).await,
        Command::List(args) => tasks::list(&settings, args).await,
        Command::Events { id } => tasks::events(&settings, *id).await,
        Command::Cancel { id, reason } => tasks::cancel(&settings, *id, reason.as_deref()).await,
        Command::Watch(args) => match args.id {
            Some(id) => watch::watch_task(&settings, id).await,
            None => watch::watch_all(&settings, args).await,
        },
        Command::Schedules(command) => schedules::run(&settings, command).await,
        Command::Tenants(command) => tenants::run(&settings, command).await,
        Command::Dlq(command) => dlq::run(&settings, command).await,
        Command::Tap(args) => tap::run(&settings, args).await,
    }
}

/// Errors go to stderr: an API's problem with its details, a failure as reported, anything
/// else with its causes.
fn report(error: &anyhow::Error) {
    if let Some(problem) = error.downcast_ref::<ApiProblem>() {
        eprintln!("error: {problem}");
    } else if let Some(failed) = error.downcast_ref::<Failed>() {
        eprintln!("error: {failed}");
    } else {
        eprintln!("error: {error:#}");
    }
}
