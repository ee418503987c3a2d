//! Path resolution inside the container's root (CVE-2021-30465 and kin):
//! every mount destination, masked path, readonly path and device node is
//! resolved as if the rootfs were `/` — a symlink in the image can never
//! lead out of it — and used through the resulting fd (`/proc/self/fd/N`),
//! so a symlink swapped in after the check cannot redirect the mount.
//!
//! openat2(RESOLVE_IN_ROOT) does the resolution where the kernel has it
//! (5.6+); otherwise a component-by-component O_NOFOLLOW walk does the same.
//!
//! Runs in: container init, before pivot_root.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::{fstat, fstatat, mkdirat, Mode, SFlag};

use crate::sys::linux::{openat2, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS};

/// Symlinks followed in one resolution before giving up (the kernel's limit).
const MAX_SYMLINKS: usize = 40;

static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// The components of an in-root path: no root, no ".", ".." kept (the
/// resolver clamps it at the root).
fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn join(parts: &[OsString]) -> PathBuf {
    if parts.is_empty() {
        return PathBuf::from(".");
    }
    parts.iter().collect()
}

/// Opens `path` (container view) under `root` as an O_PATH fd. With
/// `follow_last` false a final symlink is returned itself, not followed.
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path, follow_last: bool) -> nix::Result<OwnedFd> {
    let parts = components(path);
    open_parts(root, &parts, follow_last)
}

/// openat2 attempts before the userspace walk takes over a lookup. With
/// RESOLVE_IN_ROOT the kernel answers EAGAIN when a rename or mount
/// anywhere on the system raced a ".." step (it can no longer prove the
/// walk stayed inside the root); on a busy host that is not rare, and an
/// image's `../../..` links make every lookup take such steps.
const OPENAT2_TRIES: usize = 8;

fn open_parts(root: BorrowedFd<'_>, parts: &[OsString], follow_last: bool) -> nix::Result<OwnedFd> {
    let nofollow = if follow_last { 0 } else { libc::O_NOFOLLOW };
    if !NO_OPENAT2.load(Ordering::Relaxed) {
        for _ in 0..OPENAT2_TRIES {
            match openat2(
                root,
                &join(parts),
                libc::O_PATH | nofollow,
                RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
            ) {
                Err(Errno::ENOSYS) => {
                    NO_OPENAT2.store(true, Ordering::Relaxed);
                    break;
                }
                Err(Errno::EAGAIN) => continue,
                r => return r,
            }
        }
    }
    // No openat2, or it kept losing races: the walk is as strict (one
    // component at a time, ".." clamped by our own stack) and never retries.
    walk(root, parts, follow_last)
}

/// The fallback: one component at a time, never following a symlink with
/// the kernel; symlink targets are spliced into the remaining path, with
/// absolute targets and ".." clamped at `root`.
pub fn walk(root: BorrowedFd<'_>, parts: &[OsString], follow_last: bool) -> nix::Result<OwnedFd> {
    let reopen = |fd: BorrowedFd<'_>| {
        openat(
            fd,
            ".",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    };
    let mut stack: Vec<OwnedFd> = vec![reopen(root)?];
    let mut queue: VecDeque<OsString> = parts.iter().cloned().collect();
    let mut links = 0;
    while let Some(name) = queue.pop_front() {
        if name == ".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let top = stack.last().expect("the root stays on the stack");
        let fd = openat(
            top.as_fd(),
            Path::new(&name),
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let st = fstat(&fd)?;
        let is_link = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK;
        if is_link && (follow_last || !queue.is_empty()) {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(Errno::ELOOP);
            }
            let target = readlinkat(&fd, Path::new(""))?;
            let target = PathBuf::from(target);
            if target.is_absolute() {
                stack.truncate(1);
            }
            for c in components(&target).into_iter().rev() {
                queue.push_front(c);
            }
            continue;
        }
        if !queue.is_empty()
            && SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR
        {
            return Err(Errno::ENOTDIR);
        }
        stack.push(fd);
    }
    Ok(stack.pop().expect("the root stays on the stack"))
}

/// What to create at the end of a path that does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

/// Opens `path` under `root`, creating what is missing (directories 0755,
/// a final file 0644 if `last` is File). A dangling symlink on the way is
/// resolved in-root and its target created, as runc's MkdirAllInRoot does.
pub fn create_in_root(root: BorrowedFd<'_>, path: &Path, last: Kind) -> nix::Result<OwnedFd> {
    let mut parts = components(path);
    for _ in 0..MAX_SYMLINKS + parts.len() + 1 {
        match open_parts(root, &parts, true) {
            Err(Errno::ENOENT) => {}
            r => return r,
        }
        // parts[i] is missing or dangling; any other failure is the answer
        // (ELOOP, ENOTDIR, EACCES ...).
        let Some((i, parent)) = first_missing(root, &parts)? else {
            continue; // appeared meanwhile
        };
        let name = Path::new(&parts[i]).to_path_buf();
        let made = if i + 1 == parts.len() && last == Kind::File {
            openat(
                parent.as_fd(),
                &name,
                OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC
                    | OFlag::O_WRONLY,
                Mode::from_bits_truncate(0o644),
            )
            .map(drop)
        } else {
            mkdirat(parent.as_fd(), &name, Mode::from_bits_truncate(0o755))
        };
        match made {
            Ok(()) => {}
            // Neither creation follows a symlink: a dangling one is EEXIST.
            Err(Errno::EEXIST) => {
                let st = fstatat(
                    parent.as_fd(),
                    &name,
                    nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                )?;
                if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK {
                    let target = PathBuf::from(readlinkat(parent.as_fd(), &name)?);
                    let mut next = if target.is_absolute() {
                        Vec::new()
                    } else {
                        parts[..i].to_vec()
                    };
                    next.extend(components(&target));
                    next.extend(parts[i + 1..].iter().cloned());
                    parts = next;
                }
                // Else it appeared meanwhile: look again.
            }
            Err(e) => return Err(e),
        }
    }
    Err(Errno::ELOOP)
}

/// The first component of `parts` that does not resolve, with an fd of
/// the directory it should be in; None if all of them resolve now. Most
/// often only the last is missing, so the parent is tried first.
fn first_missing(
    root: BorrowedFd<'_>,
    parts: &[OsString],
) -> nix::Result<Option<(usize, OwnedFd)>> {
    let Some(n) = parts.len().checked_sub(1) else {
        return Ok(None);
    };
    match open_parts(root, &parts[..n], true) {
        Ok(parent) => return Ok(Some((n, parent))),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let mut parent = open_parts(root, &[], true)?;
    for i in 0..n {
        match open_parts(root, &parts[..=i], true) {
            Ok(fd) => parent = fd,
            Err(Errno::ENOENT) => return Ok(Some((i, parent))),
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// The magic-link path through which mount(2) and friends use `fd`.
/// Valid while the host's /proc is the process's /proc (before pivot_root).
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The path of an fd as the kernel sees it (for error messages).
pub fn describe(fd: &impl AsRawFd) -> String {
    std::fs::read_link(fd_path(fd)).map_or_else(|_| "?".into(), |p| p.display().to_string())
}

/// Is the fd a symlink (opened with follow_last = false)?
pub fn is_symlink(fd: &OwnedFd) -> bool {
    fstat(fd)
        .is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK)
}

pub fn is_dir(fd: &OwnedFd) -> bool {
    fstat(fd)
        .is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
}

/// Converts raw bytes (a readlink result) to a path.
pub fn path_from_bytes(b: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(b.to_vec()))
}

/// Lossless bytes of a path component (for error text).
pub fn name_bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn tree(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("husk-resolve-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("root/etc")).unwrap();
        fs::create_dir_all(d.join("outside")).unwrap();
        fs::write(d.join("outside/secret"), "host").unwrap();
        d
    }

    fn rootfd(d: &Path) -> OwnedFd {
        nix::fcntl::open(
            &d.join("root"),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    fn real(fd: &OwnedFd) -> PathBuf {
        fs::read_link(fd_path(fd)).unwrap()
    }

    #[test]
    fn absolute_symlink_stays_inside_root() {
        let d = tree("abs");
        symlink(d.join("outside"), d.join("root/etc/evil")).unwrap();
        let r = rootfd(&d);
        // The host path d/outside does not exist under root, so this must not resolve to it.
        assert_eq!(
            open_in_root(r.as_fd(), Path::new("/etc/evil/secret"), true).unwrap_err(),
            Errno::ENOENT
        );
        let parts = components(Path::new("/etc/evil/secret"));
        assert_eq!(walk(r.as_fd(), &parts, true).unwrap_err(), Errno::ENOENT);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn dotdot_is_clamped_at_root_by_both_resolvers() {
        let d = tree("dotdot");
        symlink("../../../outside", d.join("root/etc/up")).unwrap();
        let r = rootfd(&d);
        assert!(open_in_root(r.as_fd(), Path::new("/etc/up/secret"), true).is_err());
        let parts = components(Path::new("/../../outside/secret"));
        assert!(walk(r.as_fd(), &parts, true).is_err());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn create_follows_dangling_symlink_inside_root() {
        let d = tree("dangling");
        symlink("/host-etc", d.join("root/data")).unwrap();
        let r = rootfd(&d);
        let fd = create_in_root(r.as_fd(), Path::new("/data/sub"), Kind::Dir).unwrap();
        assert_eq!(real(&fd), d.join("root/host-etc/sub"));
        assert!(!Path::new("/host-etc").exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn create_makes_every_missing_level_and_follows_a_dangling_link_midway() {
        let d = tree("levels");
        symlink("/elsewhere", d.join("root/etc/link")).unwrap();
        let r = rootfd(&d);
        let fd = create_in_root(r.as_fd(), Path::new("/a/b/c/d"), Kind::Dir).unwrap();
        assert_eq!(real(&fd), d.join("root/a/b/c/d"));
        let fd = create_in_root(r.as_fd(), Path::new("/etc/link/x/y"), Kind::File).unwrap();
        assert_eq!(real(&fd), d.join("root/elsewhere/x/y"));
        assert!(d.join("root/elsewhere/x/y").is_file());
        assert!(!Path::new("/elsewhere").exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn create_makes_a_file_at_the_end() {
        let d = tree("file");
        let r = rootfd(&d);
        let fd = create_in_root(r.as_fd(), Path::new("/etc/hosts"), Kind::File).unwrap();
        assert_eq!(real(&fd), d.join("root/etc/hosts"));
        assert!(d.join("root/etc/hosts").is_file());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn dotdot_lookups_survive_concurrent_renames() {
        // RESOLVE_IN_ROOT answers EAGAIN to a ".." step that a rename raced.
        let d = tree("eagain");
        symlink("../../../../etc", d.join("root/etc/up")).unwrap();
        fs::create_dir_all(d.join("churn")).unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let churn = {
            let (stop, dir) = (stop.clone(), d.join("churn"));
            std::thread::spawn(move || {
                fs::write(dir.join("a"), "").unwrap();
                while !stop.load(Ordering::Relaxed) {
                    fs::rename(dir.join("a"), dir.join("b")).unwrap();
                    fs::rename(dir.join("b"), dir.join("a")).unwrap();
                }
            })
        };
        let r = rootfd(&d);
        for _ in 0..2000 {
            let fd = open_in_root(r.as_fd(), Path::new("/etc/up/up/up/../etc/up"), true).unwrap();
            assert_eq!(real(&fd), d.join("root/etc"));
        }
        stop.store(true, Ordering::Relaxed);
        churn.join().unwrap();
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn walk_matches_openat2_on_relative_links() {
        let d = tree("rel");
        fs::create_dir_all(d.join("root/a/b")).unwrap();
        symlink("a/b", d.join("root/l")).unwrap();
        let r = rootfd(&d);
        let a = open_in_root(r.as_fd(), Path::new("/l"), true).unwrap();
        let b = walk(r.as_fd(), &components(Path::new("/l")), true).unwrap();
        assert_eq!(real(&a), real(&b));
        let nofollow = walk(r.as_fd(), &components(Path::new("/l")), false).unwrap();
        assert!(is_symlink(&nofollow));
        fs::remove_dir_all(&d).unwrap();
    }
}
