//! /dev inside the container: the default device nodes (or, in a user
//! namespace where mknod is not allowed, binds of the host's), the devices
//! of linux.devices, the /proc/self/fd symlinks and /dev/ptmx, and a null
//! device that is verified to be one before it is used to mask paths
//! (CVE-2025-31133 class).
//!
//! Runs in: container init, before pivot_root.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, AtFlags, OFlag};
use nix::sys::stat::{fstat, major, makedev, minor, mknodat, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::resolve::{self, fd_path, Kind};
use super::{Result, Root, RootfsError};
use crate::sys::Sys;

/// A device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevNode {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

fn char_dev(path: &str, major: u64, minor: u64) -> DevNode {
    DevNode {
        path: path.into(),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    }
}

/// The nodes every container gets, then linux.devices (a device listed in
/// the config replaces a default one at the same path).
pub fn nodes(spec: &[LinuxDevice]) -> Vec<DevNode> {
    let mut out = vec![
        char_dev("/dev/null", 1, 3),
        char_dev("/dev/zero", 1, 5),
        char_dev("/dev/full", 1, 7),
        char_dev("/dev/tty", 5, 0),
        char_dev("/dev/random", 1, 8),
        char_dev("/dev/urandom", 1, 9),
    ];
    for d in spec {
        out.retain(|n| n.path != *d.path());
        out.push(DevNode {
            path: d.path().clone(),
            kind: match d.typ() {
                LinuxDeviceType::B => SFlag::S_IFBLK,
                LinuxDeviceType::P => SFlag::S_IFIFO,
                _ => SFlag::S_IFCHR,
            },
            major: d.major().max(0) as u64,
            minor: d.minor().max(0) as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    out
}

/// Creates the nodes. `bind` (user namespaces): bind-mount the host's node
/// onto an empty file instead of mknod, and never chown it (the host's
/// /dev/null is shared by everything on the machine).
pub fn create_nodes(sys: &dyn Sys, root: &Root, nodes: &[DevNode], bind: bool) -> Result<()> {
    // Modes exactly as asked, without a chmod per node; the init sets the
    // process's own umask later.
    let umask = (!bind).then(|| nix::sys::stat::umask(Mode::empty()));
    let r = make_nodes(sys, root, nodes, bind);
    if let Some(old) = umask {
        nix::sys::stat::umask(old);
    }
    r
}

fn make_nodes(sys: &dyn Sys, root: &Root, nodes: &[DevNode], bind: bool) -> Result<()> {
    let (euid, egid) = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    // Nodes mostly share a directory (/dev): resolve it once.
    let mut parent: Option<(&Path, OwnedFd)> = None;
    for n in nodes {
        let err = |what: &str| {
            let what = what.to_string();
            let path = n.path.clone();
            move |source| RootfsError::Device { path, what, source }
        };
        let parent_path = n.path.parent().unwrap_or(Path::new("/"));
        let name = n
            .path
            .file_name()
            .ok_or(Errno::EINVAL)
            .map_err(err("has no file name"))?;
        if bind {
            let host = open(&n.path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(err("cannot open the host's node"))?;
            let fd = root.dest(&n.path, Kind::File)?;
            sys.mount(
                Some(&fd_path(&host)),
                &fd_path(&fd),
                None,
                nix::mount::MsFlags::MS_BIND,
                None,
            )
            .map_err(err("bind of the host's node failed"))?;
            continue;
        }
        let dir = match parent {
            Some((p, ref fd)) if p == parent_path => fd,
            _ => {
                &parent
                    .insert((parent_path, root.dest(parent_path, Kind::Dir)?))
                    .1
            }
        };
        let make = || {
            mknodat(
                dir.as_fd(),
                name,
                n.kind,
                Mode::from_bits_truncate(n.mode),
                makedev(n.major, n.minor),
            )
        };
        match make() {
            // Whatever the image has there is replaced.
            Err(Errno::EEXIST) => {
                unlinkat(dir.as_fd(), name, UnlinkatFlags::NoRemoveDir)
                    .map_err(err("cannot replace the existing entry"))?;
                make()
            }
            r => r,
        }
        .map_err(err("mknod failed"))?;
        // Made by us, the node is ours already in the common case (root:root).
        if (n.uid, n.gid) != (euid, egid) {
            fchownat(
                dir.as_fd(),
                name,
                Some(Uid::from_raw(n.uid)),
                Some(Gid::from_raw(n.gid)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(err("chown failed"))?;
        }
    }
    Ok(())
}

/// /dev/fd, /dev/stdin, /dev/stdout, /dev/stderr (and /dev/core when the
/// kernel has /proc/kcore), then /dev/ptmx -> pts/ptmx for the container's
/// own devpts instance.
pub fn links(root: &Root, ptmx: bool) -> Result<()> {
    let dev = root.dest(Path::new("/dev"), Kind::Dir)?;
    let mut list = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        list.push(("/proc/kcore", "core"));
    }
    for (target, name) in list {
        match symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(source) => {
                return Err(RootfsError::Device {
                    path: Path::new("/dev").join(name),
                    what: "symlink failed".into(),
                    source,
                })
            }
        }
    }
    if ptmx {
        let err = |source| RootfsError::Device {
            path: "/dev/ptmx".into(),
            what: "cannot point it at pts/ptmx".into(),
            source,
        };
        match unlinkat(dev.as_fd(), "ptmx", UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(err(e)),
        }
        symlinkat("pts/ptmx", dev.as_fd(), "ptmx").map_err(err)?;
    }
    Ok(())
}

/// Is `fd` the character device major:minor?
pub fn is_char_dev(fd: &OwnedFd, maj: u64, min: u64) -> bool {
    fstat(fd).is_ok_and(|st| {
        SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR
            && major(st.st_rdev) == maj
            && minor(st.st_rdev) == min
    })
}

/// An O_PATH fd of a real null device to bind over masked files: the
/// container's /dev/null if it is one, else the host's, verified too.
pub fn null_device(root: &Root) -> Result<OwnedFd> {
    if let Ok(fd) = resolve::open_in_root(root.fd(), Path::new("/dev/null"), false) {
        if is_char_dev(&fd, 1, 3) {
            return Ok(fd);
        }
    }
    let host =
        open("/dev/null", OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).map_err(|source| {
            RootfsError::Device {
                path: "/dev/null".into(),
                what: "cannot open the host's null device".into(),
                source,
            }
        })?;
    if is_char_dev(&host, 1, 3) {
        Ok(host)
    } else {
        Err(RootfsError::FakeNull {
            path: "/dev/null".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_device_replaces_default_at_same_path() {
        let d: LinuxDevice = serde_json::from_str(
            r#"{"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":384}"#,
        )
        .unwrap();
        let n = nodes(&[d]);
        assert_eq!(
            n.iter()
                .filter(|x| x.path == Path::new("/dev/null"))
                .count(),
            1
        );
        assert_eq!(n.last().unwrap().mode, 0o600);
    }

    #[test]
    fn host_null_is_a_null_device() {
        let fd = open("/dev/null", OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).unwrap();
        assert!(is_char_dev(&fd, 1, 3));
        let zero = open("/dev/zero", OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).unwrap();
        assert!(!is_char_dev(&zero, 1, 3));
    }
}
