//! exec.fifo, the create/start barrier (runc's design). `create` makes the
//! fifo; the init keeps an O_PATH handle on it from before pivot_root and,
//! when everything is set up, opens it for writing through that handle,
//! which blocks until `start` opens it for reading. The init then writes one
//! byte, runs the startContainer hooks and execs, holding the write end
//! (close-on-exec) until the exec; `start` reads the byte, knows the init
//! is past the barrier, removes the fifo, and waits for end-of-file: the
//! user process runs (or the init died) before poststart hooks run.

use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::Mode;
use nix::unistd::mkfifo;
use nix::unistd::{read, Pid};

#[derive(Debug, thiserror::Error)]
pub enum FifoError {
    #[error("failed to create {path:?}")]
    Create {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("failed to open {path:?}")]
    Open {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("the container process exited before start")]
    InitGone,
    #[error("waiting for the container process failed")]
    Wait(#[source] nix::Error),
}

/// Makes the fifo (0622: the init may run as any uid before it opens it).
pub fn make(path: &Path) -> Result<(), FifoError> {
    let old = crate::sys::linux::set_umask(0);
    let r = mkfifo(path, Mode::from_bits_truncate(0o622));
    crate::sys::linux::set_umask(old);
    r.map_err(|source| FifoError::Create {
        path: path.into(),
        source,
    })
}

/// Runs in: container init, before pivot_root. An O_PATH handle that the
/// init can still use when the state dir is no longer in its mount tree.
pub fn open_handle(path: &Path) -> Result<OwnedFd, FifoError> {
    open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).map_err(|source| FifoError::Open {
        path: path.into(),
        source,
    })
}

/// Runs in: container init, last step before exec. Blocks until `start`.
/// `proc` is a procfs directory the init opened itself. Returns the write
/// end, for the init to hold until its exec closes it: `start` waits for
/// that before its poststart hooks (the spec puts them after the user
/// process is executed, and so after startContainer).
pub fn wait_for_start(proc: &OwnedFd, handle: &OwnedFd) -> Result<OwnedFd, FifoError> {
    let path = PathBuf::from(format!("self/fd/{}", handle.as_raw_fd()));
    let fd = nix::fcntl::openat(
        proc.as_fd(),
        &path,
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| FifoError::Open { path, source })?;
    nix::unistd::write(&fd, b"0").map_err(FifoError::Wait)?;
    Ok(fd)
}

/// Opens the fifo for reading (without waiting for a writer), which
/// releases the init whenever it gets there.
pub fn open_reader(path: &Path) -> Result<OwnedFd, FifoError> {
    open(
        path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| FifoError::Open {
        path: path.into(),
        source,
    })
}

/// Runs in: `husk start`. Opens the fifo for reading (unless `opened`
/// already did), which releases the init, and waits for its byte, then for
/// end-of-file (the init's exec, or its death, closes the write end).
/// `init` is a pidfd of the container init: if it dies instead of writing,
/// start fails rather than hanging.
pub fn release(
    path: &Path,
    init: Option<&OwnedFd>,
    opened: Option<OwnedFd>,
) -> Result<(), FifoError> {
    let fifo = match opened {
        Some(fd) => fd,
        None => open_reader(path)?,
    };
    loop {
        let mut fds = vec![PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        if let Some(p) = init {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(FifoError::Wait(e)),
            Ok(_) => {}
        }
        let fifo_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
        let init_gone = fds
            .get(1)
            .and_then(|f| f.revents())
            .is_some_and(|r| !r.is_empty());
        if fifo_ready {
            let mut b = [0u8; 1];
            return match read(&fifo, &mut b) {
                Ok(1) => {
                    let _ = fs::remove_file(path);
                    wait_for_eof(&fifo)
                }
                Ok(_) => Err(FifoError::InitGone),
                Err(nix::Error::EAGAIN) if !init_gone => continue,
                Err(nix::Error::EAGAIN) => Err(FifoError::InitGone),
                Err(e) => Err(FifoError::Wait(e)),
            };
        }
        if init_gone {
            return Err(FifoError::InitGone);
        }
    }
}

/// Reads (and drops) whatever comes until every writer has closed the fifo.
fn wait_for_eof(fifo: &OwnedFd) -> Result<(), FifoError> {
    let mut buf = [0u8; 64];
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => return Err(FifoError::Wait(e)),
        }
        match read(fifo, &mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) | Err(nix::Error::EAGAIN | nix::Error::EINTR) => {}
            Err(e) => return Err(FifoError::Wait(e)),
        }
    }
}

/// A pidfd for `pid`, if the kernel has them (5.3+).
pub fn pidfd(pid: Pid) -> Option<OwnedFd> {
    crate::sys::linux::pidfd_open(pid).ok()
}

/// Is there still a fifo (the container was never started)?
pub fn exists(path: &Path) -> bool {
    match fs::symlink_metadata(path) {
        Ok(_) => true,
        Err(e) => e.kind() != io::ErrorKind::NotFound,
    }
}
