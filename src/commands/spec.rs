//! `husk spec`: write the default config.json.

use anyhow::{bail, Context, Result};

use crate::cli::SpecArgs;

pub fn run(a: SpecArgs) -> Result<i32> {
    let path = a.bundle.join("config.json");
    if path.exists() {
        bail!("{} exists: remove it first", path.display());
    }
    let text = serde_json::to_string_pretty(&husk::spec::default_config())?;
    std::fs::write(&path, text + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(0)
}
