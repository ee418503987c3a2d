//! A recording `Sys` for unit tests: every call becomes a `Call` value and
//! succeeds, so a test can assert the exact sequence a plan produces.

use std::cell::RefCell;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

use super::Sys;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Mount {
        src: Option<PathBuf>,
        dst: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    Umount {
        dst: PathBuf,
        flags: MntFlags,
    },
    BindFd {
        recursive: bool,
        attrs: Option<(u64, u64)>,
    },
    SetHostname(String),
    SetDomainname(String),
}

#[derive(Debug, Default)]
pub struct FakeSys {
    calls: RefCell<Vec<Call>>,
}

impl FakeSys {
    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }
}

impl Sys for FakeSys {
    fn mount(
        &self,
        src: Option<&Path>,
        dst: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        self.calls.borrow_mut().push(Call::Mount {
            src: src.map(Path::to_path_buf),
            dst: dst.to_path_buf(),
            fstype: fstype.map(str::to_string),
            flags,
            data: data.map(str::to_string),
        });
        Ok(())
    }

    fn umount(&self, dst: &Path, flags: MntFlags) -> nix::Result<()> {
        self.calls.borrow_mut().push(Call::Umount {
            dst: dst.to_path_buf(),
            flags,
        });
        Ok(())
    }

    /// Records the call and hands back a copy of `dst` as the "mount".
    fn bind_fd(
        &self,
        _src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        recursive: bool,
        attrs: Option<(u64, u64)>,
    ) -> nix::Result<OwnedFd> {
        self.calls
            .borrow_mut()
            .push(Call::BindFd { recursive, attrs });
        dst.try_clone_to_owned()
            .map_err(|e| nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EBADF)))
    }

    fn sethostname(&self, name: &str) -> nix::Result<()> {
        self.calls.borrow_mut().push(Call::SetHostname(name.into()));
        Ok(())
    }

    fn setdomainname(&self, name: &str) -> nix::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::SetDomainname(name.into()));
        Ok(())
    }
}
