//! `husk delete [--force] ID...`.

use anyhow::{Context, Result};
use husk::store::StoreError;

use crate::cli::{DeleteArgs, Global};

pub fn run(a: DeleteArgs, g: &Global) -> Result<i32> {
    let store = super::existing_store(g)?;
    for id in &a.ids {
        let ct = match store.lock(id) {
            Ok(ct) => ct,
            // With --force a container that is already gone is not an error
            // (containerd's shim deletes twice).
            Err(StoreError::NotFound { .. }) if a.force => continue,
            Err(e) => return Err(e.into()),
        };
        husk::container::delete::delete(ct, a.force)
            .with_context(|| format!("failed to delete container {id:?}"))?;
    }
    Ok(0)
}
