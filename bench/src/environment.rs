//! Settings the bench scripts pass in the environment rather than on the command line, so that
//! database URLs and API keys stay out of `ps`.

use anyhow::Context;

/// The variable `name`, or an error that says to set it.
pub fn required(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("set {name}"))
}
