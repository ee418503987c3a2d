//! `husk create`: a container whose process waits for `start`.

use anyhow::{Context, Result};
use husk::container::create::{create, CreateOptions, Monitor};
use husk::shim::policy::Settings;

use crate::cli::{CreateArgs, Global, PolicyArgs, ShimMode};

/// Who will collect the init's exit: a shim for detached containers, unless
/// told otherwise or the caller is an engine that reaps its children.
pub fn monitor(g: &Global, detached: bool) -> Monitor {
    if !detached {
        return Monitor::Caller;
    }
    match g.shim {
        ShimMode::Never => Monitor::Caller,
        ShimMode::Always => Monitor::NewShim,
        ShimMode::Auto if husk::shim::engine_caller() => Monitor::Caller,
        ShimMode::Auto => Monitor::NewShim,
    }
}

pub fn settings(p: &PolicyArgs) -> Settings {
    Settings {
        restart: p.restart.clone(),
        stop_signal: p.stop_signal.clone(),
        stop_timeout: p.stop_timeout.clone(),
        health_cmd: p.health_cmd.clone(),
        health_tcp: p.health_tcp.clone(),
        health_http: p.health_http.clone(),
        health_file: p.health_file.clone(),
        health_interval: p.health_interval.clone(),
        health_timeout: p.health_timeout.clone(),
        health_retries: p.health_retries.clone(),
        health_start_period: p.health_start_period.clone(),
        log_max_size: p.log_max_size.clone(),
        log_max_files: p.log_max_files.clone(),
    }
}

pub fn options(a: &CreateArgs, g: &Global, detached: bool) -> CreateOptions {
    CreateOptions {
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        console_fd: None,
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds as i32,
        monitor: monitor(g, detached),
        policy: settings(&a.policy),
        start_at_once: false,
    }
}

pub fn run(a: CreateArgs, g: &Global) -> Result<i32> {
    let store = super::store(g)?;
    create(&store, &a.id, options(&a, g, true))
        .with_context(|| format!("failed to create container {:?}", a.id))?;
    Ok(0)
}
