//! Who the container process is: rlimits, oom_score_adj, supplementary
//! groups, gid, uid, umask, and ownership of its stdio pipes.
//!
//! Runs in: container init (and exec'd processes), after pivot_root.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, Mode, SFlag};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType, User};

use crate::sys::linux;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("error setting rlimit {name}: soft {soft} hard {hard}")]
    Rlimit {
        name: String,
        soft: u64,
        hard: u64,
        #[source]
        source: nix::Error,
    },
    #[error("failed to set oom_score_adj to {value}")]
    OomScore {
        value: i32,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to set supplementary groups {gids:?}")]
    Groups {
        gids: Vec<u32>,
        #[source]
        source: nix::Error,
    },
    #[error("cannot set additional gids {gids:?}: setgroups(2) is denied in this user namespace (rootless with a single gid mapping; map a subordinate gid range with newgidmap to allow it)")]
    GroupsDenied { gids: Vec<u32> },
    #[error("failed to switch to uid {uid} gid {gid}")]
    Ids {
        uid: u32,
        gid: u32,
        #[source]
        source: nix::Error,
    },
}

pub type Result<T, E = IdentityError> = std::result::Result<T, E>;

/// The resource number of an OCI rlimit type.
pub fn rlimit_resource(t: PosixRlimitType) -> u32 {
    use PosixRlimitType as T;
    match t {
        T::RlimitCpu => libc::RLIMIT_CPU,
        T::RlimitFsize => libc::RLIMIT_FSIZE,
        T::RlimitData => libc::RLIMIT_DATA,
        T::RlimitStack => libc::RLIMIT_STACK,
        T::RlimitCore => libc::RLIMIT_CORE,
        T::RlimitRss => libc::RLIMIT_RSS,
        T::RlimitNproc => libc::RLIMIT_NPROC,
        T::RlimitNofile => libc::RLIMIT_NOFILE,
        T::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        T::RlimitAs => libc::RLIMIT_AS,
        T::RlimitLocks => libc::RLIMIT_LOCKS,
        T::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        T::RlimitNice => libc::RLIMIT_NICE,
        T::RlimitRtprio => libc::RLIMIT_RTPRIO,
        T::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// Sets each rlimit. Raising a hard limit needs CAP_SYS_RESOURCE: without
/// it this fails with a clear error rather than silently running with less.
pub fn set_rlimits(list: &[PosixRlimit]) -> Result<()> {
    for r in list {
        linux::set_rlimit(rlimit_resource(r.typ()), r.soft(), r.hard()).map_err(|source| {
            IdentityError::Rlimit {
                name: crate::serde_name(&r.typ()),
                soft: r.soft(),
                hard: r.hard(),
                source,
            }
        })?;
    }
    Ok(())
}

/// Writes /proc/self/oom_score_adj through the init's own procfs handle.
pub fn set_oom_score_adj(proc: &OwnedFd, value: i32) -> Result<()> {
    let err = |source| IdentityError::OomScore { value, source };
    let fd = openat(
        proc.as_fd(),
        "self/oom_score_adj",
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| err(e.into()))?;
    std::fs::File::from(fd)
        .write_all(value.to_string().as_bytes())
        .map_err(err)
}

/// May this process call setgroups(2)? Only with CAP_SETGID (`privileged`:
/// a root runtime, or root of the container's user namespace), and not in
/// a user namespace whose /proc/self/setgroups says "deny" (what an
/// unprivileged runtime writes before it may write a gid_map).
pub fn setgroups_allowed(proc: &OwnedFd, privileged: bool) -> bool {
    if !privileged {
        return false;
    }
    let text = openat(
        proc.as_fd(),
        "self/setgroups",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()
    .and_then(|fd| std::io::read_to_string(std::fs::File::from(fd)).ok());
    crate::userns::setgroups_text_allows(text.as_deref())
}

/// Supplementary groups, gid, then uid (keeping capabilities across the
/// uid change, so the capability step can set the final sets).
/// Without `setgroups_allowed` (see above) the process keeps the groups it
/// has, and asking for more is an error, as with runc.
pub fn switch_user(user: &User, setgroups_allowed: bool) -> Result<()> {
    let gids: Vec<u32> = user.additional_gids().clone().unwrap_or_default();
    if !setgroups_allowed && !gids.is_empty() {
        return Err(IdentityError::GroupsDenied { gids });
    }
    if setgroups_allowed {
        linux::set_groups(&gids).map_err(|source| IdentityError::Groups {
            gids: gids.clone(),
            source,
        })?;
    }
    let ids = |source| IdentityError::Ids {
        uid: user.uid(),
        gid: user.gid(),
        source,
    };
    linux::set_keep_caps(true).map_err(ids)?;
    linux::set_res_ids(user.uid(), user.gid()).map_err(ids)?;
    linux::set_keep_caps(false).map_err(ids)?;
    Ok(())
}

/// Hands the stdio pipes and sockets to the container user, so it can
/// reopen /dev/stdout (e.g. nginx, postgres). Regular files and device
/// nodes are left alone: they may be shared host nodes like /dev/null.
pub fn chown_stdio(uid: u32, gid: u32) {
    if uid == 0 && gid == 0 {
        return;
    }
    for fd in 0..3 {
        let Ok(st) = fstat(crate::sys::linux::borrow_fd(fd)) else {
            continue;
        };
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        if (kind == SFlag::S_IFIFO || kind == SFlag::S_IFSOCK)
            && st.st_uid == nix::unistd::geteuid().as_raw()
        {
            let _ = nix::unistd::fchown(
                crate::sys::linux::borrow_fd(fd),
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            );
        }
    }
}
