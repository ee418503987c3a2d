//! `husk spec`: write the default config.json.

use anyhow::{bail, Context, Result};

use crate::cli::{Global, SpecArgs};

/// `spec --rootless` (runc's), or the global `--rootless` before the
/// command, asks for husk::spec::rootless_config.
pub fn run(a: SpecArgs, g: &Global) -> Result<i32> {
    let rootless = a.rootless
        || match g.rootless.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => bail!("--rootless before spec takes true or false, not {other:?}"),
        };
    let path = a.bundle.join("config.json");
    if path.exists() {
        bail!("{} exists: remove it first", path.display());
    }
    let config = if rootless {
        husk::spec::rootless_config(&husk::spec::RootlessIds::of_caller())
    } else {
        husk::spec::default_config()
    };
    let text = serde_json::to_string_pretty(&config)?;
    std::fs::write(&path, text + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(0)
}
