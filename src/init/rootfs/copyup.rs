//! `tmpcopyup`: a tmpfs mounted over a directory starts with that
//! directory's contents (podman asks for it on /tmp, /run, … of
//! read-only containers). The old contents are read through an fd opened
//! before the mount, which still sees the covered directory.
//!
//! Runs in: container init, before pivot_root.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::dir::Dir;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, mkdirat, mknodat, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, Gid, Uid};

/// Opens a directory (given as an O_PATH fd) for reading its entries.
pub fn open_dir(opath: &OwnedFd) -> nix::Result<OwnedFd> {
    nix::fcntl::open(
        &super::resolve::fd_path(opath),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Copies everything in `src` into `dst` (both directories opened for
/// reading), keeping modes and owners; symlinks are copied, never followed.
pub fn copy_tree(src: OwnedFd, dst: &OwnedFd) -> nix::Result<()> {
    let mut dir = Dir::from_fd(src)?;
    let names: Vec<std::ffi::CString> = dir
        .iter()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    let src = dir.as_fd();
    for name in names {
        let name = Path::new(std::ffi::OsStr::from_bytes(name.as_bytes()));
        let st = fstatat(src, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        if kind == SFlag::S_IFDIR {
            mkdirat(dst.as_fd(), name, mode)?;
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            let s = openat(src, name, flags, Mode::empty())?;
            let d = openat(dst.as_fd(), name, flags, Mode::empty())?;
            copy_tree(s, &d)?;
        } else if kind == SFlag::S_IFREG {
            let s = openat(
                src,
                name,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            let d = openat(
                dst.as_fd(),
                name,
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                mode,
            )?;
            let (mut s, mut d) = (std::fs::File::from(s), std::fs::File::from(d));
            std::io::copy(&mut s, &mut d)
                .map_err(|e| nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        } else if kind == SFlag::S_IFLNK {
            let target = readlinkat(src, name)?;
            symlinkat(Path::new(&target), dst.as_fd(), name)?;
        } else {
            mknodat(dst.as_fd(), name, kind, mode, st.st_rdev)?;
        }
        fchownat(
            dst.as_fd(),
            name,
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
    }
    Ok(())
}
