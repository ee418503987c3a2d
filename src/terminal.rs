//! Terminals: the pty of a container with `process.terminal`, made inside
//! the container's own devpts instance, its master sent to the engine over
//! the console socket (one SCM_RIGHTS message, the pty name as payload),
//! and — for `husk run` in the foreground — relayed to husk's own terminal.
//!
//! Runs in: container init (make, send), the runtime (connect, receive, relay).

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::stat::Mode;

use crate::init::rootfs::resolve::{self, fd_path};
use crate::init::rootfs::Root;
use crate::sys::linux;

#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error("cannot connect to console socket {path:?}")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("a terminal needs a devpts mount at /dev/pts in the container")]
    NoDevpts(#[source] nix::Error),
    #[error("/dev/pts/ptmx in the container is not a devpts ptmx")]
    FakePtmx,
    #[error("failed to {what}")]
    Pty {
        what: &'static str,
        #[source]
        source: nix::Error,
    },
}

pub type Result<T, E = TerminalError> = std::result::Result<T, E>;

/// A pty: the master for the engine, the slave for the container process.
#[derive(Debug)]
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    /// "/dev/pts/N" as the container sees it.
    pub name: String,
}

/// The parent's end: connects to the engine's console socket before the clone.
pub fn connect(path: &Path) -> Result<OwnedFd> {
    let s = UnixStream::connect(path).map_err(|source| TerminalError::Connect {
        path: path.into(),
        source,
    })?;
    Ok(s.into())
}

const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;

/// Runs in: container init before pivot_root, or an exec'd process.
/// Opens a new pty in the container's devpts (checked to be devpts, so an
/// image cannot substitute its own node) and, for the init, bind-mounts
/// the slave on /dev/console.
pub fn open_in_container(
    sys: &dyn crate::sys::Sys,
    root: &Root,
    proc: &OwnedFd,
    console: bool,
) -> Result<Pty> {
    let ptmx = resolve::open_in_root(root.fd(), Path::new("/dev/pts/ptmx"), false)
        .map_err(TerminalError::NoDevpts)?;
    let fs = nix::sys::statfs::fstatfs(&ptmx).map_err(TerminalError::NoDevpts)?;
    if fs.filesystem_type().0 as i64 != DEVPTS_SUPER_MAGIC
        || !crate::init::rootfs::dev::is_char_dev(&ptmx, 5, 2)
    {
        return Err(TerminalError::FakePtmx);
    }
    // Reopened through our own procfs handle, never the container's /proc.
    let master = nix::fcntl::openat(
        std::os::fd::AsFd::as_fd(proc),
        &PathBuf::from(format!("self/fd/{}", ptmx.as_raw_fd())),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| TerminalError::Pty {
        what: "open ptmx",
        source,
    })?;
    let n = linux::unlock_pty(master.as_raw_fd()).map_err(|source| TerminalError::Pty {
        what: "unlock the pty",
        source,
    })?;
    let slave = linux::open_pty_peer(master.as_raw_fd()).map_err(|source| TerminalError::Pty {
        what: "open the pty slave",
        source,
    })?;
    if console {
        let dev_console = root
            .dest(
                Path::new("/dev/console"),
                crate::init::rootfs::resolve::Kind::File,
            )
            .map_err(|_| TerminalError::Pty {
                what: "create /dev/console",
                source: nix::Error::EIO,
            })?;
        sys.mount(
            Some(&fd_path(&slave)),
            &fd_path(&dev_console),
            None,
            nix::mount::MsFlags::MS_BIND,
            None,
        )
        .map_err(|source| TerminalError::Pty {
            what: "bind the pty on /dev/console",
            source,
        })?;
    }
    Ok(Pty {
        master,
        slave,
        name: format!("/dev/pts/{n}"),
    })
}

/// Sets the window size on a pty (process.consoleSize, or SIGWINCH relay).
pub fn set_size(fd: RawFd, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    linux::set_winsize(fd, &ws).map_err(|source| TerminalError::Pty {
        what: "set the window size",
        source,
    })
}

/// Sends the master over the console socket: one message, one fd, the
/// pty name as payload (what conmon and containerd-shim read).
pub fn send_master(socket: RawFd, master: &OwnedFd, name: &str) -> Result<()> {
    let fds = [master.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(socket, &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None)
        .map(drop)
        .map_err(|source| TerminalError::Pty {
            what: "send the pty master",
            source,
        })
}

/// Receives a pty master from a console socket.
pub fn recv_master(socket: RawFd) -> Result<OwnedFd> {
    let mut buf = [0u8; 4096];
    match linux::recv_with_fd(socket, &mut buf) {
        Ok((_, Some(fd))) => Ok(fd),
        Ok((_, None)) => Err(TerminalError::Pty {
            what: "receive the pty master",
            source: nix::Error::ENODATA,
        }),
        Err(source) => Err(TerminalError::Pty {
            what: "receive the pty master",
            source,
        }),
    }
}

/// Runs in: container init, last steps. The slave becomes the controlling
/// terminal of a new session and the process's stdio.
pub fn make_controlling(slave: &OwnedFd) -> Result<()> {
    nix::unistd::setsid().map_err(|source| TerminalError::Pty {
        what: "start a new session",
        source,
    })?;
    linux::set_controlling_tty(slave.as_raw_fd()).map_err(|source| TerminalError::Pty {
        what: "set the controlling terminal",
        source,
    })?;
    for fd in 0..3 {
        linux::dup_onto(slave.as_fd().as_raw_fd(), fd).map_err(|source| TerminalError::Pty {
            what: "attach the pty to stdio",
            source,
        })?;
    }
    Ok(())
}
