//! linux.maskedPaths and linux.readonlyPaths, resolved inside the rootfs
//! like every mount destination (a masked path that is a symlink masks what
//! it points to inside the container, never a host file).
//!
//! Runs in: container init, before pivot_root, after /proc and /sys are mounted.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::options::MOUNT_ATTR_RDONLY;
use super::resolve::{self, fd_path};
use super::{locked_flags, Result, Root, RootfsError};
use crate::sys::Sys;

/// Hides each path: a directory under an empty read-only tmpfs, anything
/// else under the (verified) null device. Missing paths are skipped.
pub fn mask(sys: &dyn Sys, root: &Root, paths: &[String], null: &OwnedFd) -> Result<()> {
    for p in paths {
        let fd = match resolve::open_in_root(root.fd(), Path::new(p), true) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(source) => {
                return Err(RootfsError::Resolve {
                    dest: p.into(),
                    source,
                })
            }
        };
        let r = if resolve::is_dir(&fd) {
            sys.mount(
                Some(Path::new("tmpfs")),
                &fd_path(&fd),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None,
            )
        } else {
            sys.mount(
                Some(&fd_path(null)),
                &fd_path(&fd),
                None,
                MsFlags::MS_BIND,
                None,
            )
        };
        r.map_err(|source| RootfsError::Mount {
            what: "mask".into(),
            dest: p.into(),
            source,
        })?;
    }
    Ok(())
}

/// Makes each path read-only: a bind of itself, remounted read-only with
/// the flags the kernel locks kept. Missing paths are skipped.
pub fn make_readonly(sys: &dyn Sys, root: &Root, paths: &[String]) -> Result<()> {
    for p in paths {
        let dest = Path::new(p);
        let fd = match resolve::open_in_root(root.fd(), dest, true) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(source) => {
                return Err(RootfsError::Resolve {
                    dest: p.into(),
                    source,
                })
            }
        };
        let fail = |source| RootfsError::Mount {
            what: "read-only bind".into(),
            dest: p.into(),
            source,
        };
        // A read-only copy of the path's mount tree, attached onto the
        // path's own fd: no second lookup a symlink swap could redirect to
        // another mount (CVE-2021-30465 class).
        match sys.bind_fd(fd.as_fd(), fd.as_fd(), true, Some((MOUNT_ATTR_RDONLY, 0))) {
            Ok(_) => continue,
            Err(Errno::ENOSYS) => {}
            Err(e) => return Err(fail(e)),
        }
        // Before 5.12: bind, look up again, remount.
        sys.mount(
            Some(&fd_path(&fd)),
            &fd_path(&fd),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )
        .map_err(fail)?;
        // The fd still names the directory under the new mount: reopen to reach the bind.
        let top = resolve::open_in_root(root.fd(), dest, true).map_err(|source| {
            RootfsError::Resolve {
                dest: p.into(),
                source,
            }
        })?;
        let keep = locked_flags(&top);
        sys.mount(
            None,
            &fd_path(&top),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | keep,
            None,
        )
        .map_err(fail)?;
    }
    Ok(())
}
