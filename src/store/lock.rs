//! flock(2) on a container's state directory: every read-modify-write of a
//! container's record happens under it. The lock is tied to the open
//! directory fd and released when the fd is closed (or the process dies, so
//! a crashed husk never leaves a container locked).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;

/// An open directory with an exclusive flock held on it.
#[derive(Debug)]
pub struct DirLock {
    fd: OwnedFd,
}

impl DirLock {
    /// Opens `dir` and blocks until the exclusive lock is ours.
    pub fn acquire(dir: &Path) -> nix::Result<DirLock> {
        let fd = open(
            dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        loop {
            match flock(fd.as_raw_fd(), libc::LOCK_EX) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
                Ok(()) => return Ok(DirLock { fd }),
            }
        }
    }

    /// Like `acquire` but fails with EWOULDBLOCK instead of waiting.
    pub fn try_acquire(dir: &Path) -> nix::Result<DirLock> {
        let fd = open(
            dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB)?;
        Ok(DirLock { fd })
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }
}

use crate::sys::linux::flock;
