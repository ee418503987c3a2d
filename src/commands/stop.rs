//! `husk stop [--time T] ID...` and `husk restart [--time T] ID`.

use std::time::Duration;

use anyhow::{Context, Result};
use husk::container::create::{recreate, Monitor};
use husk::container::stop::{stop, Stopped};

use crate::cli::{Global, RestartArgs, StopArgs};

/// runc-style seconds ("10") or a duration ("500ms").
fn timeout(t: &Option<String>) -> Result<Option<Duration>> {
    Ok(t.as_deref().map(husk::units::parse_duration).transpose()?)
}

pub fn run(a: StopArgs, g: &Global) -> Result<i32> {
    let t = timeout(&a.time)?;
    let store = super::existing_store(g)?;
    for id in &a.ids {
        let how =
            stop(&store, id, t).with_context(|| format!("failed to stop container {id:?}"))?;
        if how == Stopped::Killed {
            eprintln!("husk: {id}: did not stop in time: killed");
        }
    }
    Ok(0)
}

pub fn restart(a: RestartArgs, g: &Global) -> Result<i32> {
    let t = timeout(&a.time)?;
    let store = super::existing_store(g)?;
    stop(&store, &a.id, t).with_context(|| format!("failed to stop container {:?}", a.id))?;
    // The old shim ends with its container; a new one watches the new run.
    let old = store.load(&a.id)?.shim;
    if let Some(s) = old {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while s.alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let monitor = match super::create::monitor(g, true) {
        Monitor::NewShim if old.is_none() => Monitor::Caller,
        m => m,
    };
    let mut created = recreate(&store, &a.id, monitor)
        .with_context(|| format!("failed to recreate container {:?}", a.id))?;
    husk::container::start::start(&mut created.container)
        .with_context(|| format!("failed to start container {:?}", a.id))?;
    Ok(0)
}

/// `husk __recreate ID`, run by the shim for a restart: stdio on fds 3-5.
pub fn recreate_for_shim(id: &str, g: &Global) -> Result<i32> {
    let fds = [3, 4, 5].map(husk::sys::linux::adopt_inherited_fd);
    let store = super::existing_store(g)?;
    let mut created = recreate(&store, id, Monitor::Existing { stdio: fds })?;
    husk::container::start::start(&mut created.container)?;
    Ok(0)
}
