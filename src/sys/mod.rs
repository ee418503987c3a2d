//! The syscall boundary. `Sys` is the narrow trait through which the
//! container-setup code mounts, unmounts and names things, so that the mount
//! plan can be checked against `FakeSys` in unit tests; `linux` holds every
//! `unsafe` call husk makes.
//!
//! Called from: init (rootfs, identity), container (create, exec), shim.

pub mod fake;
pub mod linux;

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
    fn sethostname(&self, name: &str) -> nix::Result<()>;
    fn setdomainname(&self, name: &str) -> nix::Result<()>;
}
