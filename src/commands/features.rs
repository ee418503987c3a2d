//! `husk features`.

use anyhow::Result;

pub fn run() -> Result<i32> {
    super::out!(
        "{}",
        serde_json::to_string_pretty(&husk::features::document())?
    )?;
    Ok(0)
}
