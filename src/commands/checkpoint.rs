//! `husk checkpoint` / `husk restore`: CRIU through runc's flags.
//! `restore` without --detach waits for the container like `run` does,
//! then deletes it; `__criu-action` is the step CRIU calls back into.

use anyhow::{anyhow, Context, Result};
use husk::container::checkpoint::{checkpoint as dump, CheckpointOptions};
use husk::container::restore::{restore as bring_back, RestoreOptions};
use husk::container::{delete, wait};
use husk::criu::CgroupsMode;
use husk::store::StoreError;

use crate::cli::{self, CheckpointArgs, Global, RestoreArgs};

fn mode(m: Option<cli::CgroupsMode>) -> Option<CgroupsMode> {
    m.map(|m| match m {
        cli::CgroupsMode::Soft => CgroupsMode::Soft,
        cli::CgroupsMode::Full => CgroupsMode::Full,
        cli::CgroupsMode::Strict => CgroupsMode::Strict,
        cli::CgroupsMode::Ignore => CgroupsMode::Ignore,
    })
}

pub fn checkpoint(a: CheckpointArgs, g: &Global) -> Result<i32> {
    let opts = CheckpointOptions {
        images: a.criu.image_path,
        work: a.criu.work_path,
        parent: a.parent_path,
        leave_running: a.leave_running,
        pre_dump: a.pre_dump,
        tcp_established: a.criu.tcp_established,
        ext_unix_sk: a.criu.ext_unix_sk,
        shell_job: a.criu.shell_job,
        file_locks: a.criu.file_locks,
        manage_cgroups: mode(a.criu.manage_cgroups_mode),
        empty_ns: a.empty_ns,
    };
    let ct = super::existing_store(g)?
        .lock(&a.id)
        .with_context(|| format!("failed to checkpoint container {:?}", a.id))?;
    dump(ct, &opts).with_context(|| format!("failed to checkpoint container {:?}", a.id))?;
    Ok(0)
}

pub fn restore(a: RestoreArgs, g: &Global) -> Result<i32> {
    let store = super::store(g)?;
    let id = a.id.clone();
    let opts = RestoreOptions {
        images: a.criu.image_path,
        work: a.criu.work_path,
        bundle: a.bundle,
        pid_file: a.pid_file,
        console_socket: a.console_socket,
        tcp_established: a.criu.tcp_established,
        ext_unix_sk: a.criu.ext_unix_sk,
        shell_job: a.criu.shell_job,
        file_locks: a.criu.file_locks,
        manage_cgroups: mode(a.criu.manage_cgroups_mode),
        monitor: super::create::monitor(g, a.detach),
        policy: super::create::settings(&a.policy),
    };
    // Before the restore: a signal meant for the container must not be lost.
    let signals = if a.detach {
        None
    } else {
        Some(wait::catch_signals()?)
    };
    let restored = bring_back(&store, &id, opts)
        .with_context(|| format!("failed to restore container {id:?}"))?;
    let Some(signals) = signals else {
        return Ok(0);
    };
    // In the foreground, as runc: wait for the init (husk's child: CRIU
    // restored it as its sibling), then delete the container.
    let pid = restored.pid;
    drop(restored.container);
    let code = wait::foreground(pid, signals, None)?;
    match store.lock(&id) {
        Ok(ct) => delete::delete(ct, true)
            .with_context(|| format!("failed to delete container {id:?}"))?,
        // Deleted meanwhile (delete --force): nothing left to clean up.
        Err(StoreError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(code)
}

/// CRIU's action script: the step is in the environment.
pub fn criu_action() -> Result<i32> {
    let action = std::env::var("CRTOOLS_SCRIPT_ACTION").unwrap_or_default();
    let pid = std::env::var("CRTOOLS_INIT_PID")
        .ok()
        .and_then(|p| p.parse().ok());
    husk::criu::on_action(&action, pid).map_err(|e| anyhow!("criu action {action:?}: {e}"))?;
    Ok(0)
}
