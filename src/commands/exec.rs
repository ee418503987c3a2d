//! `husk exec ID CMD...` / `husk exec --process FILE ID`: a new process in a
//! running container; its exit status in the foreground, husk's launch
//! status with --detach.

use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{anyhow, bail, Context, Result};
use husk::container::exec::{self, ExecOptions};
use husk::container::wait;
use oci_spec::runtime::{Capabilities, Process, Spec};

use crate::cli::{ExecArgs, Global};

pub fn run(a: ExecArgs, g: &Global) -> Result<i32> {
    // Everything of husk that enters the container runs from a sealed
    // in-memory copy of the binary (CVE-2019-5736).
    if !husk::sys::linux::running_from_sealed_copy() {
        let e = husk::sys::linux::reexec_from_sealed_copy();
        bail!("cannot run from a sealed copy of husk: {e}");
    }
    let store = super::existing_store(g)?;
    let spec = exec::stored_spec(&store, &a.id).map_err(|e| match e {
        husk::container::ContainerError::Store(husk::store::StoreError::Read { .. }) => {
            anyhow!(husk::store::StoreError::NotFound { id: a.id.clone() })
        }
        e => e.into(),
    })?;
    let process = build_process(&a, &spec)?;
    let terminal = process.terminal() == Some(true);
    let mut peer: Option<OwnedFd> = None;
    let mut console_fd = None;
    if !a.detach && a.console_socket.is_none() && terminal {
        let (ours, theirs) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::Stream,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )?;
        console_fd = Some(theirs);
        peer = Some(ours);
    }
    let signals = if a.detach {
        None
    } else {
        Some(wait::catch_signals()?)
    };
    let opts = ExecOptions {
        process,
        console_socket: a.console_socket.clone(),
        console_fd,
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds as i32,
        ignore_paused: a.ignore_paused,
    };
    let pid = exec::exec(&store, &a.id, &spec, opts)
        .with_context(|| format!("failed to exec in container {:?}", a.id))?;
    let Some(signals) = signals else { return Ok(0) };
    let master = match peer {
        Some(p) => Some(husk::terminal::recv_master(p.as_raw_fd())?),
        None => None,
    };
    if let Some(m) = &master {
        wait::copy_winsize(m);
    }
    Ok(wait::foreground(pid, signals, master)?)
}

/// The process to run: --process as given (runc ignores the other process
/// flags then), else the container's own process with the command and
/// flags applied.
fn build_process(a: &ExecArgs, spec: &Spec) -> Result<Process> {
    if let Some(path) = &a.process {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read process file {}", path.display()))?;
        let p: Process = husk::bundle::from_json(&bytes)
            .map_err(|e| anyhow!("invalid process file {}: {e}", path.display()))?;
        return Ok(p);
    }
    if a.command.is_empty() {
        bail!("exec: no command given: pass it after the container id, or use --process");
    }
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    p.set_console_size(None);
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &a.env {
        let key = kv.split('=').next().unwrap_or(kv);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(if kv.contains('=') {
            kv.clone()
        } else {
            format!("{kv}=")
        });
    }
    p.set_env(Some(env));
    let mut user = p.user().clone();
    if let Some(u) = &a.user {
        let (uid, gid) = u
            .split_once(':')
            .map_or((u.as_str(), None), |(a, b)| (a, Some(b)));
        user.set_uid(
            uid.parse()
                .map_err(|_| anyhow!("invalid --user {u:?}: use numeric UID[:GID]"))?,
        );
        if let Some(g) = gid {
            user.set_gid(
                g.parse()
                    .map_err(|_| anyhow!("invalid --user {u:?}: use numeric UID[:GID]"))?,
            );
        }
    }
    if !a.additional_gids.is_empty() {
        user.set_additional_gids(Some(a.additional_gids.clone()));
    }
    p.set_user(user);
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(ap) = &a.apparmor {
        p.set_apparmor_profile(Some(ap.clone()));
    }
    if let Some(l) = &a.process_label {
        p.set_selinux_label(Some(l.clone()));
    }
    if !a.caps.is_empty() {
        let mut c = p.capabilities().clone().unwrap_or_default();
        let extra: Capabilities = serde_json::from_value(serde_json::json!(a
            .caps
            .iter()
            .map(|c| if c.starts_with("CAP_") {
                c.clone()
            } else {
                format!("CAP_{}", c.to_ascii_uppercase())
            })
            .collect::<Vec<_>>()))
        .map_err(|e| anyhow!("invalid --cap: {e}"))?;
        let add = |set: Option<Capabilities>| {
            let mut s = set.unwrap_or_default();
            s.extend(extra.iter().copied());
            Some(s)
        };
        c.set_bounding(add(c.bounding().clone()));
        c.set_effective(add(c.effective().clone()));
        c.set_permitted(add(c.permitted().clone()));
        c.set_inheritable(add(c.inheritable().clone()));
        c.set_ambient(add(c.ambient().clone()));
        p.set_capabilities(Some(c));
    }
    Ok(p)
}
