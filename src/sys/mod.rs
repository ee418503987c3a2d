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

/// Reads a small file in as few syscalls as its size allows: open, one
/// read into a buffer of `hint` bytes, close (std::fs::read adds a statx
/// and a second read to find the end). A short read is the end: for a
/// regular file it can be nothing else, and /proc's one-record files
/// (/proc/<pid>/stat) come whole in one read that has room for them.
/// `list` reads two files per container, so this is most of its syscalls.
pub fn read_small(path: &Path, hint: usize) -> std::io::Result<Vec<u8>> {
    read_into(path, hint, true)
}

/// Reads a file of many records from /proc (mountinfo, /proc/self/cgroup)
/// into a buffer of `hint` bytes to start with, until a read returns
/// nothing: such a file can come in short reads before its end (one page
/// of records at a time), and std::fs::read, finding its size 0, starts
/// with 32 bytes and doubles, which took 7 reads of mountinfo here.
pub fn read_proc_text(path: &Path, hint: usize) -> std::io::Result<String> {
    let bytes = read_into(path, hint, false)?;
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

fn read_into(path: &Path, hint: usize, short_is_end: bool) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; hint.max(64)];
    let mut n = 0;
    loop {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(got) => {
                n += got;
                if short_is_end && n < buf.len() {
                    break;
                }
                if n == buf.len() {
                    buf.resize(buf.len() * 2, 0);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(n);
    Ok(buf)
}

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

#[cfg(test)]
mod tests {
    use super::read_small;

    #[test]
    fn read_small_reads_whole_files_of_any_size() {
        let dir = std::env::temp_dir().join(format!("husk-read-small-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let hint = 64;
        // Empty, shorter than the buffer, exactly its size (the end shows
        // only on the next read), and several times larger.
        for len in [0, 10, hint, hint * 5 + 3] {
            let path = dir.join(format!("f{len}"));
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            std::fs::write(&path, &data).unwrap();
            assert_eq!(read_small(&path, hint).unwrap(), data, "length {len}");
        }
        assert_eq!(
            read_small(&dir.join("missing"), hint).unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        );
        // /proc's one-record files come whole.
        let stat = read_small(std::path::Path::new("/proc/self/stat"), 64).unwrap();
        assert!(
            stat.ends_with(b"\n"),
            "{:?}",
            String::from_utf8_lossy(&stat)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
