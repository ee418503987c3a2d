//! `husk run`: create + start + wait in the foreground (signals forwarded,
//! a terminal relayed), exit with the container's status, then delete it.
//! With --detach: create + start and return.

use std::os::fd::OwnedFd;

use anyhow::{Context, Result};
use husk::container::{create, delete, start, wait};
use husk::lifecycle::Phase;
use husk::store::ExitRecord;

use crate::cli::{Global, RunArgs};

pub fn run(a: RunArgs, g: &Global) -> Result<i32> {
    let store = super::store(g)?;
    let id = a.create.id.clone();
    let mut opts = super::create::options(&a.create, g, a.detach);
    opts.start_at_once = true;
    // In the foreground without --console-socket, husk is the other end of the terminal.
    let mut peer: Option<OwnedFd> = None;
    if !a.detach && opts.console_socket.is_none() {
        let (ours, theirs) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::Stream,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )?;
        opts.console_fd = Some(theirs);
        peer = Some(ours);
    }
    let mut created = create::create(&store, &id, opts)
        .with_context(|| format!("failed to create container {id:?}"))?;
    let terminal = created.spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    let master = match (&peer, terminal) {
        (Some(p), true) => Some(husk::terminal::recv_master(
            std::os::fd::AsRawFd::as_raw_fd(p),
        )?),
        _ => None,
    };
    // Before start: the process may ask for its window size at once.
    if let Some(m) = &master {
        wait::copy_winsize(m);
    }
    drop(peer);
    let signals = if a.detach {
        None
    } else {
        Some(wait::catch_signals()?)
    };
    start::start_with(&mut created.container, created.fifo.take())
        .with_context(|| format!("failed to start container {id:?}"))?;
    if a.detach {
        return Ok(0);
    }
    let pid = created.pid;
    // Other commands (kill, pause) must be able to lock the container while we wait.
    drop(created.container);
    let code = wait::foreground(pid, signals.expect("set when not detached"), master)?;

    let mut ct = store.lock(&id)?;
    if !a.keep {
        // Deleted at once: recording the exit first would be wasted writes.
        delete::delete(ct, true).with_context(|| format!("failed to delete container {id:?}"))?;
        return Ok(code);
    }
    ct.record.phase = if code == 0 {
        Phase::Stopped
    } else {
        Phase::Dead
    };
    ct.record.exit = Some(ExitRecord {
        code: Some(code),
        signal: (code > 128).then_some(code - 128),
        reason: if code > 128 { "signaled" } else { "exited" }.into(),
        finished: husk::timestamp::now(),
    });
    ct.save_durable()?;
    Ok(code)
}
