//! The syscall boundary. `Sys` is the narrow trait through which the
//! container-setup code mounts, unmounts and names things, so that the mount
//! plan can be checked against `FakeSys` in unit tests; `linux` holds every
//! `unsafe` call husk makes.
//!
//! Called from: init (rootfs, identity), container (create, exec), shim.

pub mod fake;
pub mod linux;

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};

pub use fake::{Call, FakeSys};
pub use linux::LinuxSys;

/// The kernel operations of container setup that are worth recording in tests.
pub trait Sys {
    fn mount(
        &self,
        src: Option<&Path>,
        dst: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    fn umount(&self, dst: &Path, flags: MntFlags) -> nix::Result<()>;
    /// Binds the mount at `src` onto `dst` through their fds, with the top
    /// mount's `attrs` (mount_setattr set, clear) applied before anyone can
    /// see it; returns the new mount's root (see `linux::bind_by_fd`).
    fn bind_fd(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        recursive: bool,
        attrs: Option<(u64, u64)>,
    ) -> nix::Result<OwnedFd>;
    fn sethostname(&self, name: &str) -> nix::Result<()>;
    fn setdomainname(&self, name: &str) -> nix::Result<()>;
}
