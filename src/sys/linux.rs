//! The only `unsafe` in husk: thin wrappers over the raw Linux calls that nix
//! does not cover (clone without a new stack, openat2, pidfds, close_range,
//! prctl, pty ioctls, execve with a prepared argv). Each wrapper is small and
//! says why it is sound.
//!
//! Called from: everywhere below `sys`; runs in whichever process calls it.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::Sys;

/// The real kernel.
#[derive(Debug, Default, Clone, Copy)]
pub struct LinuxSys;

impl Sys for LinuxSys {
    fn mount(
        &self,
        src: Option<&Path>,
        dst: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(src, dst, fstype, flags, data)
    }

    fn umount(&self, dst: &Path, flags: MntFlags) -> nix::Result<()> {
        nix::mount::umount2(dst, flags)
    }

    fn sethostname(&self, name: &str) -> nix::Result<()> {
        nix::unistd::sethostname(name)
    }

    fn bind_fd(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        recursive: bool,
        attrs: Option<(u64, u64)>,
    ) -> nix::Result<OwnedFd> {
        bind_by_fd(src, dst, recursive, attrs)
    }

    fn setdomainname(&self, name: &str) -> nix::Result<()> {
        let c = CString::new(name).map_err(|_| Errno::EINVAL)?;
        // SAFETY: setdomainname reads exactly `len` bytes from a valid buffer we own.
        let rc = unsafe { libc::setdomainname(c.as_ptr(), name.len()) };
        Errno::result(rc).map(drop)
    }
}

/// What `clone_process` returned in the calling process.
pub enum Forked {
    Parent(Pid),
    Child,
}

/// clone(2) with fork semantics (no new stack: the child continues on a copy
/// of ours) and `flags` for new namespaces. The parent gets SIGCHLD on exit.
///
/// Must be called while the process is single-threaded: the child gets a copy
/// of one thread only, and husk never starts a second one before this point.
pub fn clone_process(flags: CloneFlags) -> nix::Result<Forked> {
    let raw = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: with a NULL stack the raw clone syscall behaves like fork(2):
    // the child runs on a copy-on-write copy of this stack. We are
    // single-threaded (no locks held by other threads), so the child may keep
    // using the allocator and std. No pointer arguments are passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone,
            raw,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0usize,
        )
    };
    match Errno::result(rc)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as i32))),
    }
}

/// fork(2) for helpers (hooks, the shim) where no namespace flags are needed.
pub fn fork_process() -> nix::Result<Forked> {
    clone_process(CloneFlags::empty())
}

/// Ends the calling process at once, without running atexit handlers or
/// flushing stdio buffers that belong to the parent's copy.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and takes no pointers.
    unsafe { libc::_exit(code) }
}

/// `openat2(2)` resolution flags (linux/openat2.h).
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2(2): open `path` relative to `dir` with kernel-enforced resolution
/// rules. ENOSYS on kernels before 5.6.
pub fn openat2(dir: BorrowedFd<'_>, path: &Path, flags: i32, resolve: u64) -> nix::Result<OwnedFd> {
    let c = path_cstr(path)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    // SAFETY: `c` is a valid NUL-terminated string and `how` a properly laid
    // out open_how that outlives the call; the kernel copies both.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    let fd = Errno::result(rc)? as RawFd;
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// pidfd_open(2): a handle on a process that cannot be confused with a later
/// process reusing the pid.
pub fn pidfd_open(pid: Pid) -> nix::Result<OwnedFd> {
    // SAFETY: plain integer arguments.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    let fd = Errno::result(rc)? as RawFd;
    // SAFETY: a new fd owned by us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// pidfd_send_signal(2).
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: Signal) -> nix::Result<()> {
    // SAFETY: a NULL siginfo is allowed (the kernel fills in a SI_USER one).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig as libc::c_int,
            std::ptr::null_mut::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}

/// Marks every fd from `first` upward close-on-exec (CVE-2024-21626: no
/// host fd may survive into the container). Falls back to walking
/// /proc/self/fd on kernels without CLOSE_RANGE_CLOEXEC (< 5.11).
pub fn cloexec_from(first: RawFd) -> nix::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes fd flags in our own table; no memory is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    for fd in open_fds_from(first)? {
        // F_SETFD on an fd that was the read_dir's own (now closed) fails
        // with EBADF, which is harmless.
        // SAFETY: fcntl on an integer fd touches no memory.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// The open fds from `first` upward, from /proc/self/fd (the fallbacks
/// for kernels without close_range).
fn open_fds_from(first: RawFd) -> nix::Result<Vec<RawFd>> {
    let dir = std::fs::read_dir("/proc/self/fd").map_err(|_| Errno::EBADF)?;
    Ok(dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd >= first)
        .collect())
}

/// Closes every fd from `first` upward except those in `keep` (a forked
/// process that goes on without an exec: nothing of its parent's may stay
/// open). Falls back to walking /proc/self/fd without close_range (< 5.9).
pub fn close_all_from(first: RawFd, keep: &[RawFd]) -> nix::Result<()> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&k| k >= first).collect();
    keep.sort_unstable();
    // SAFETY: close_range closes fds of our own table; no memory is passed.
    // The fds in the range are owned by nothing that runs on (the caller's
    // contract).
    let close = |a: RawFd, b: libc::c_uint| unsafe {
        libc::syscall(libc::SYS_close_range, a as libc::c_uint, b, 0) == 0
    };
    // The ranges between the fds kept, then all above the last.
    let mut from = first;
    for &k in &keep {
        if k > from && !close(from, (k - 1) as libc::c_uint) {
            return close_all_by_listing(first, &keep);
        }
        from = k + 1;
    }
    if !close(from, libc::c_uint::MAX) {
        return close_all_by_listing(first, &keep);
    }
    Ok(())
}

fn close_all_by_listing(first: RawFd, keep: &[RawFd]) -> nix::Result<()> {
    for fd in open_fds_from(first)?
        .into_iter()
        .filter(|fd| !keep.contains(fd))
    {
        // EBADF for the read_dir's own fd, closed by now, is harmless.
        let _ = nix::unistd::close(fd);
    }
    Ok(())
}

/// Rewrites this process's command line as ps and /proc/<pid>/cmdline show
/// it, in the room its arguments take (what does not fit is cut): a
/// forked process that becomes something else (the shim) says so.
pub fn set_cmdline(args: &[&[u8]]) {
    let Ok(stat) = super::read_proc_text(std::path::Path::new("/proc/self/stat"), 1024) else {
        return;
    };
    let Some((start, end)) = arg_room(&stat) else {
        return;
    };
    // Only where the room holds our own arguments: under an emulator
    // (valgrind) it holds the emulator's, which it reads again at an exec.
    let ours: Vec<u8> = std::env::args_os()
        .flat_map(|a| {
            use std::os::unix::ffi::OsStringExt;
            let mut v = a.into_vec();
            v.push(0);
            v
        })
        .collect();
    // SAFETY: as below; reading only.
    let room = unsafe { std::slice::from_raw_parts(start as *const u8, end - start) };
    if room != ours.as_slice() {
        return;
    }
    let mut text: Vec<u8> = args.join(&0u8);
    // Always NUL-terminated: the last byte of the room stays 0.
    text.truncate(end - start - 1);
    text.resize(end - start, 0);
    // SAFETY: [arg_start, arg_end) is this process's argument strings on
    // its own stack (checked above: they are std's argv), mapped and
    // writable for its lifetime. Whoever still holds a pointer into them
    // (Rust's std::env::args) reads NUL-terminated strings within the area
    // afterwards, as the last byte is 0.
    unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), start as *mut u8, text.len()) };
}

/// Where a process's argument strings lie, from its /proc/<pid>/stat:
/// fields 48 and 49 (arg_start, arg_end), counted after the last ")",
/// which ends the command name (itself free to hold ")" and spaces).
fn arg_room(stat: &str) -> Option<(usize, usize)> {
    let mut f = stat.rsplit_once(')')?.1.split_whitespace();
    // Field 3 is the first after the name: field 48 is the 46th.
    let start = f.nth(45)?.parse().ok()?;
    let end = f.next()?.parse().ok()?;
    (end > start).then_some((start, end))
}

/// Returns the free memory of malloc's heap to the kernel (malloc_trim).
pub fn release_free_heap() {
    // SAFETY: malloc_trim only releases memory malloc holds free.
    unsafe { libc::malloc_trim(0) };
}

/// Clears close-on-exec on one fd (for --preserve-fds and the console).
pub fn clear_cloexec(fd: RawFd) -> nix::Result<()> {
    // SAFETY: fcntl with integer arguments only.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    Errno::result(rc).map(drop)
}

/// dup2 that tolerates `from == to` by clearing CLOEXEC instead.
pub fn dup_onto(from: RawFd, to: RawFd) -> nix::Result<()> {
    if from == to {
        return clear_cloexec(to);
    }
    // SAFETY: dup2 on integer fds; the target is deliberately replaced.
    let rc = unsafe { libc::dup2(from, to) };
    Errno::result(rc).map(drop)
}

fn prctl(option: libc::c_int, arg: libc::c_ulong) -> nix::Result<()> {
    // SAFETY: all prctl options used here take integer arguments only.
    let rc = unsafe {
        libc::prctl(
            option,
            arg,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    Errno::result(rc).map(drop)
}

pub fn set_child_subreaper(on: bool) -> nix::Result<()> {
    prctl(libc::PR_SET_CHILD_SUBREAPER, on as libc::c_ulong)
}

pub fn is_child_subreaper() -> nix::Result<bool> {
    let mut v: libc::c_int = 0;
    // SAFETY: PR_GET_CHILD_SUBREAPER writes one int through the pointer we pass.
    let rc = unsafe { libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut v as *mut libc::c_int) };
    Errno::result(rc).map(|_| v != 0)
}

pub fn set_dumpable(on: bool) -> nix::Result<()> {
    prctl(libc::PR_SET_DUMPABLE, on as libc::c_ulong)
}

pub fn set_no_new_privs() -> nix::Result<()> {
    // SAFETY: integer arguments only.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_NO_NEW_PRIVS,
            1 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    Errno::result(rc).map(drop)
}

pub fn set_keep_caps(on: bool) -> nix::Result<()> {
    prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong)
}

pub fn set_parent_death_signal(sig: Option<Signal>) -> nix::Result<()> {
    prctl(
        libc::PR_SET_PDEATHSIG,
        sig.map_or(0, |s| s as libc::c_ulong),
    )
}

/// Restricts the calling thread to these CPUs (sched_setaffinity).
pub fn set_cpu_affinity(cpus: &[usize]) -> nix::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    for &c in cpus {
        set.set(c)?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
}

/// Sets the process name shown by ps (comm).
pub fn set_name(name: &CStr) -> nix::Result<()> {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string (truncated to 16 bytes).
    let rc = unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
    Errno::result(rc).map(drop)
}

/// Makes `fd` (a tty) the controlling terminal of the calling session leader.
pub fn set_controlling_tty(fd: RawFd) -> nix::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) };
    Errno::result(rc).map(drop)
}

/// Unlocks a pty master and returns the number of its slave (TIOCGPTN).
pub fn unlock_pty(master: RawFd) -> nix::Result<u32> {
    let mut unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int from the pointer we pass.
    Errno::result(unsafe { libc::ioctl(master, libc::TIOCSPTLCK, &mut unlock) })?;
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int through the pointer we pass.
    Errno::result(unsafe { libc::ioctl(master, libc::TIOCGPTN, &mut n) })?;
    Ok(n)
}

/// Opens the slave of a pty master through the master itself (TIOCGPTPEER),
/// so no path in a container-controlled /dev/pts is trusted.
pub fn open_pty_peer(master: RawFd) -> nix::Result<OwnedFd> {
    const TIOCGPTPEER: libc::c_ulong = 0x5441;
    // SAFETY: TIOCGPTPEER takes open flags as an integer and returns a new fd.
    let rc = unsafe {
        libc::ioctl(
            master,
            TIOCGPTPEER as _,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    let fd = Errno::result(rc)?;
    // SAFETY: a new fd owned by us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn get_winsize(fd: RawFd) -> nix::Result<libc::winsize> {
    // SAFETY: winsize is plain old data; all-zero is a valid value.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize through the pointer we pass.
    Errno::result(unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) })?;
    Ok(ws)
}

pub fn set_winsize(fd: RawFd, ws: &libc::winsize) -> nix::Result<()> {
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer we pass.
    Errno::result(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, ws as *const libc::winsize) })
        .map(drop)
}

/// execve(2) with argv/envp already converted. Returns only on failure.
pub fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> Errno {
    match nix::unistd::execve(path, argv, envp) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

/// Sets the umask and returns the previous one.
pub fn set_umask(mask: u32) -> u32 {
    // SAFETY: umask cannot fail and touches no memory.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// setgroups(2) with an explicit list (nix's wrapper takes &[Gid] too, but
/// this keeps every id syscall of the init in one place).
pub fn set_groups(gids: &[u32]) -> nix::Result<()> {
    // SAFETY: the kernel reads `len` gid_t values from a slice we own.
    let rc = unsafe { libc::setgroups(gids.len(), gids.as_ptr()) };
    Errno::result(rc).map(drop)
}

/// setresuid/setresgid as raw syscalls: glibc's wrappers broadcast the change
/// to all threads with a signal dance that is pointless in the single-threaded init.
pub fn set_res_ids(uid: u32, gid: u32) -> nix::Result<()> {
    // SAFETY: integer arguments only.
    Errno::result(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) })?;
    // SAFETY: integer arguments only.
    Errno::result(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) })?;
    Ok(())
}

/// setrlimit(2).
pub fn set_rlimit(resource: u32, soft: u64, hard: u64) -> nix::Result<()> {
    let lim = libc::rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: reads one rlimit64 from a value on our stack.
    let rc = unsafe { libc::prlimit64(0, resource as _, &lim, std::ptr::null_mut()) };
    Errno::result(rc).map(drop)
}

/// waitpid that retries on EINTR and returns the raw status.
pub fn wait_raw(pid: Pid, flags: libc::c_int) -> nix::Result<(Pid, libc::c_int)> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: waitpid writes one int through the pointer we pass.
        let rc = unsafe { libc::waitpid(pid.as_raw(), &mut status, flags) };
        match Errno::result(rc) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(p) => return Ok((Pid::from_raw(p), status)),
        }
    }
}

/// Blocks the given signals for the whole (single-threaded) process and
/// returns a signalfd that reads them.
pub fn block_signals_to_fd(sigs: &[Signal]) -> nix::Result<OwnedFd> {
    let mut set = nix::sys::signal::SigSet::empty();
    for s in sigs {
        set.add(*s);
    }
    set.thread_block()?;
    // SAFETY: sigset_t is plain data; `set` lives across the call.
    let rc = unsafe { libc::signalfd(-1, set.as_ref(), libc::SFD_CLOEXEC) };
    let fd = Errno::result(rc)?;
    // SAFETY: a new fd owned by us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads one signal number from a signalfd.
pub fn read_signalfd(fd: BorrowedFd<'_>) -> nix::Result<i32> {
    // SAFETY: signalfd_siginfo is plain data; all-zero is valid.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: read writes at most `size` bytes into `info`, which is that big.
    let n = unsafe {
        libc::read(
            fd.as_raw_fd(),
            &mut info as *mut _ as *mut libc::c_void,
            size,
        )
    };
    let n = Errno::result(n)?;
    if n as usize != size {
        return Err(Errno::EIO);
    }
    Ok(info.ssi_signo as i32)
}

/// Restores every signal the parent may have blocked or ignored, so the
/// container process starts with default dispositions and an empty mask.
pub fn reset_signals() {
    for sig in Signal::iterator() {
        if matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: SIG_DFL is always a valid disposition.
        unsafe {
            let _ = nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl);
        }
    }
    let _ = nix::sys::signal::SigSet::empty().thread_set_mask();
}

/// Ignores one signal (SIGPIPE while writing to hooks, SIGHUP in the shim).
pub fn ignore_signal(sig: Signal) -> nix::Result<()> {
    // SAFETY: SIG_IGN is always a valid disposition and no handler code runs.
    unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigIgn) }.map(drop)
}

/// Sends `sig` to a process group or pid through plain kill(2).
pub fn kill(pid: Pid, sig: Signal) -> nix::Result<()> {
    nix::sys::signal::kill(pid, sig)
}

fn path_cstr(path: &Path) -> nix::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

/// flock(2) on a raw fd.
pub fn flock(fd: RawFd, op: libc::c_int) -> nix::Result<()> {
    // SAFETY: flock takes integers only.
    Errno::result(unsafe { libc::flock(fd, op) }).map(drop)
}

/// recvmsg(2) of one message and at most one SCM_RIGHTS fd (the sync
/// socket, console sockets, seccomp listeners). Retries on EINTR. Extra
/// fds beyond the first are closed.
pub fn recv_with_fd(sock: RawFd, buf: &mut [u8]) -> nix::Result<(usize, Option<OwnedFd>)> {
    let (n, fds) = recv_with_fds(sock, buf)?;
    Ok((n, fds.into_iter().next()))
}

/// The length of the next message on a SOCK_SEQPACKET socket, waiting for
/// one; 0 when the peer has closed.
pub fn peek_len(sock: RawFd) -> nix::Result<usize> {
    use nix::sys::socket::{recv, MsgFlags};
    loop {
        match recv(sock, &mut [], MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC) {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

/// Receives one message and every fd that came with it (up to 32: a v1
/// host has at most 15 hierarchies), close-on-exec.
pub fn recv_with_fds(sock: RawFd, buf: &mut [u8]) -> nix::Result<(usize, Vec<OwnedFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::io::IoSliceMut;
    let mut cmsg = nix::cmsg_space!([RawFd; 32]);
    loop {
        let mut iov = [IoSliceMut::new(buf)];
        match recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(m) => {
                let mut all = Vec::new();
                for c in m.cmsgs()? {
                    if let ControlMessageOwned::ScmRights(fds) = c {
                        for f in fds {
                            // SAFETY: SCM_RIGHTS just installed this fd in our
                            // table; nothing else refers to it.
                            all.push(unsafe { OwnedFd::from_raw_fd(f) });
                        }
                    }
                }
                return Ok((m.bytes, all));
            }
        }
    }
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) on the mount at `fd` and everything below it (5.12+).
pub fn mount_setattr_recursive(fd: RawFd, set: u64, clr: u64) -> nix::Result<()> {
    mount_setattr(fd, true, set, clr)
}

const AT_RECURSIVE: libc::c_uint = 0x8000;

/// mount_setattr(2) on the mount at `fd` (and, `recursive`, below it).
fn mount_setattr(fd: RawFd, recursive: bool, set: u64, clr: u64) -> nix::Result<()> {
    const SYS_MOUNT_SETATTR: libc::c_long = 442;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: 0,
    };
    let empty = c"";
    let flags = libc::AT_EMPTY_PATH as libc::c_uint | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: `empty` is a valid C string and `attr` a correctly laid out
    // mount_attr that lives across the call; the kernel only reads them.
    let rc = unsafe {
        libc::syscall(
            SYS_MOUNT_SETATTR,
            fd,
            empty.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(rc).map(drop)
}

/// A bind mount made from fds alone (5.12+): open_tree(2) clones the mount
/// at `src` (with its submounts when `recursive`) as a detached tree,
/// mount_setattr(2) gives its top mount `attrs` (set, clear) while nobody
/// can see it, move_mount(2) attaches it onto `dst`. The returned fd is the
/// new mount's root: its /proc/self/fd path names exactly that mount.
/// ENOSYS from any step means an older kernel, and nothing was mounted.
pub fn bind_by_fd(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    recursive: bool,
    attrs: Option<(u64, u64)>,
) -> nix::Result<OwnedFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
    let empty = c"";
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as libc::c_uint
        | libc::AT_EMPTY_PATH as libc::c_uint
        | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: `empty` is a valid C string the kernel only reads; the fd
    // argument is borrowed for the call.
    let rc = unsafe { libc::syscall(libc::SYS_open_tree, src.as_raw_fd(), empty.as_ptr(), flags) };
    let raw = Errno::result(rc)?;
    // SAFETY: open_tree returned a new fd that nothing else owns.
    let tree = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
    if let Some((set, clr)) = attrs {
        // Dropping `tree` on error dissolves the never-attached copy.
        mount_setattr(tree.as_raw_fd(), false, set, clr)?;
    }
    // SAFETY: `empty` is a valid C string the kernel only reads; both fds
    // are borrowed for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            empty.as_ptr(),
            dst.as_raw_fd(),
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    Errno::result(rc)?;
    Ok(tree)
}

/// Borrows one of the process's standard fds (0, 1, 2) by number.
pub fn borrow_fd(fd: RawFd) -> BorrowedFd<'static> {
    assert!((0..3).contains(&fd), "only stdio may be borrowed by number");
    // SAFETY: fds 0-2 stay open for the life of the process (husk never
    // closes them, only replaces them with dup2).
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): a new anonymous session keyring.
pub fn join_session_keyring() -> nix::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: a NULL name asks for an anonymous keyring; no memory is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    Errno::result(rc).map(drop)
}

/// Name of the sealed in-memory copy husk runs from on paths where a
/// container could see its process (CVE-2019-5736).
pub const SEALED_EXE_NAME: &str = "husk-sealed";

/// Is this process running from the sealed memfd copy?
pub fn running_from_sealed_copy() -> bool {
    std::fs::read_link("/proc/self/exe").is_ok_and(|p| {
        p.to_string_lossy()
            .starts_with(&format!("/memfd:{SEALED_EXE_NAME}"))
    })
}

/// Re-executes this process from a sealed memfd copy of its own binary,
/// with the same argv and environment (CVE-2019-5736): /proc/<pid>/exe of
/// a process that enters a container then names an anonymous, write-sealed
/// file, not the host's husk binary. Returns only on failure.
pub fn reexec_from_sealed_copy() -> nix::Error {
    use nix::fcntl::{fcntl, FcntlArg, SealFlag};
    use nix::sys::memfd::{memfd_create, MFdFlags};
    use std::os::unix::ffi::OsStringExt;
    let run = || -> nix::Result<std::convert::Infallible> {
        let mem = memfd_create(
            SEALED_EXE_NAME,
            MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
        )?;
        let mut src = std::fs::File::open("/proc/self/exe")
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        let mut dst = std::fs::File::from(
            mem.try_clone()
                .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?,
        );
        std::io::copy(&mut src, &mut dst)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        let seals = SealFlag::F_SEAL_SEAL
            | SealFlag::F_SEAL_SHRINK
            | SealFlag::F_SEAL_GROW
            | SealFlag::F_SEAL_WRITE;
        fcntl(&mem, FcntlArg::F_ADD_SEALS(seals))?;
        let cstr = |v: Vec<u8>| CString::new(v).map_err(|_| Errno::EINVAL);
        let argv = std::env::args_os()
            .map(|a| cstr(a.into_vec()))
            .collect::<nix::Result<Vec<_>>>()?;
        let envp = std::env::vars_os()
            .map(|(k, v)| {
                let mut kv = k.into_vec();
                kv.push(b'=');
                kv.extend(v.into_vec());
                cstr(kv)
            })
            .collect::<nix::Result<Vec<_>>>()?;
        nix::unistd::fexecve(&mem, &argv, &envp)
    };
    match run() {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

/// Takes ownership of an fd inherited across exec by number (the shim's
/// log pipes, `__recreate`'s stdio).
pub fn adopt_inherited_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: the caller names an fd this process inherited and that
    // nothing else in it owns; it is adopted exactly once.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Unblocks every signal (a forked helper must not inherit the shim's
/// blocked SIGCHLD).
pub fn reset_signals_mask() -> nix::Result<()> {
    nix::sys::signal::SigSet::empty().thread_set_mask()
}

/// Drops this process's resident pages of read-only file mappings that
/// hold nothing but file contents (its binary's text and rodata, shared
/// libraries' text) and asks for no read-around on them. They stay in the
/// page cache: what the process touches again faults back in, one page at
/// a time. A long-lived, mostly idle process (the shim) then holds only
/// what it uses. Mappings with written (copy-on-write) pages, such as
/// RELRO data after relocation, are left alone: dropping those would
/// undo the writes.
pub fn trim_file_mappings() {
    let Ok(smaps) = super::read_proc_text(std::path::Path::new("/proc/self/smaps"), 16 * 1024)
    else {
        return;
    };
    // Every range first, then the madvise calls in one tight loop: trimming
    // while parsing faulted the parser's code (spread over .text) back in
    // after the first madvise, each fault mapping a whole page-cache folio
    // (up to 256 KiB seen): the shim's RSS was 1140 KiB instead of ~1000.
    let ranges = file_only_ranges(&smaps);
    drop(smaps);
    for (a, b) in ranges {
        // SAFETY: [a, b) is a read-only, file-backed mapping of this
        // process without any anonymous (written) page, from
        // /proc/self/smaps: MADV_DONTNEED only drops page-table entries
        // of page-cache pages, which fault back in unchanged;
        // MADV_RANDOM changes read-ahead only.
        unsafe {
            libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_RANDOM);
            libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_DONTNEED);
        }
    }
}

/// The read-only, file-backed mappings of an smaps text that hold no
/// anonymous (written) page.
fn file_only_ranges(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let Some(first) = f.next() else { continue };
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            // A new mapping: "start-end perms offset dev inode path".
            current = None;
            let (Some(perms), Some(_off), Some(_dev), Some(inode)) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                continue;
            };
            if inode == "0" || perms.contains('w') || !perms.starts_with('r') {
                continue;
            }
            if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                current = Some((a, b));
            }
        } else if first == "Anonymous:" {
            let anon = f.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(1);
            if anon == 0 {
                out.extend(current.take());
            } else {
                current = None;
            }
        }
    }
    out
}

/// Brings the loopback interface of the current network namespace up
/// (a new one starts with `lo` down; runc and crun bring it up).
pub fn set_loopback_up() -> nix::Result<()> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of `req`, which we own.
    Errno::result(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })?;
    // SAFETY: ifru_flags is the union member SIOCGIFFLAGS just filled in.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads `req`, which we own.
    Errno::result(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) }).map(drop)
}

/// bpf(2) attributes for BPF_PROG_LOAD (linux/bpf.h), the fields husk sets.
#[repr(C)]
#[derive(Default)]
struct BpfProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    _rest: [u64; 8],
}

/// bpf(2) attributes for BPF_PROG_ATTACH.
#[repr(C)]
#[derive(Default)]
struct BpfProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    _rest: [u32; 11],
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// Loads a cgroup device program; the verifier's log is returned in the error text.
pub fn bpf_load_device_program(
    insns: &[crate::cgroups::devices::Insn],
) -> Result<OwnedFd, (Errno, String)> {
    let license = c"Apache-2.0";
    let mut log = vec![0u8; 16 * 1024];
    let mut name = [0u8; 16];
    name[..9].copy_from_slice(b"husk_dev\0");
    let attr = BpfProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    // SAFETY: `attr` points at the instructions, the license string and
    // the log buffer, all of which outlive the call; the kernel reads the
    // first two and writes at most log_size bytes into the third.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const BpfProgLoad,
            std::mem::size_of::<BpfProgLoad>(),
        )
    };
    match Errno::result(rc) {
        // SAFETY: a new fd owned by us alone.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
        Err(e) => {
            let end = log.iter().position(|b| *b == 0).unwrap_or(0);
            Err((e, String::from_utf8_lossy(&log[..end]).trim().to_string()))
        }
    }
}

/// Attaches a device program to the cgroup directory `cgroup` (multi-attach:
/// programs inherited from ancestors still apply too).
pub fn bpf_attach_device_program(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> nix::Result<()> {
    let attr = BpfProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    // SAFETY: the kernel reads `attr`, which lives across the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const BpfProgAttach,
            std::mem::size_of::<BpfProgAttach>(),
        )
    };
    Errno::result(rc).map(drop)
}

/// struct clone_args (linux/sched.h), for clone3(2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// clone3(2) with fork semantics into the cgroup v2 directory `cgroup`
/// (CLONE_INTO_CGROUP, 5.7+): the child is born in its cgroup, so nobody
/// has to move it there — a move takes the cgroup threadgroup rwsem for
/// writing, which can wait a whole RCU grace period.
pub fn clone_into_cgroup(flags: CloneFlags, cgroup: BorrowedFd<'_>) -> nix::Result<Forked> {
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    // With CLONE_PARENT the child signals our parent as we would, and
    // clone3 refuses an exit signal of its own (EINVAL).
    let exit_signal = if flags.contains(CloneFlags::CLONE_PARENT) {
        0
    } else {
        libc::SIGCHLD as u64
    };
    let args = CloneArgs {
        flags: flags.bits() as u64 | CLONE_INTO_CGROUP,
        exit_signal,
        cgroup: cgroup.as_raw_fd() as u64,
        ..Default::default()
    };
    // SAFETY: without CLONE_VM and with a zero stack, clone3 behaves like
    // fork(2): the child runs on a copy-on-write copy of this stack. We are
    // single-threaded, so the child may go on using the allocator and std.
    // The kernel only reads `args`, which lives across the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match Errno::result(rc)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as i32))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arg_room_counts_fields_after_the_last_parenthesis() {
        // A command name with ") " in it, as a process may give itself.
        let mut fields: Vec<String> = (3..=52).map(|n| n.to_string()).collect();
        fields[48 - 3] = "140737488347000".into();
        fields[49 - 3] = "140737488347120".into();
        let stat = format!("4242 (we) ird (name) {}", fields.join(" "));
        assert_eq!(arg_room(&stat), Some((140737488347000, 140737488347120)));
        // Empty or inverted rooms, and a cut line, give nothing.
        fields[49 - 3] = "140737488347000".into();
        assert_eq!(arg_room(&format!("1 (x) {}", fields.join(" "))), None);
        assert_eq!(arg_room("1 (x) S 0 1"), None);
        assert_eq!(arg_room("no parenthesis"), None);
    }

    #[test]
    fn only_unwritten_read_only_file_mappings_are_trimmed() {
        let smaps = "\
00200000-002be000 r--p 00000000 fe:00 5514347 /usr/bin/husk
Rss:                 128 kB
Anonymous:             0 kB
002be000-004e6000 r-xp 000bd000 fe:00 5514347 /usr/bin/husk
Anonymous:             0 kB
004eb000-004ef000 r--p 002e8000 fe:00 5514347 /usr/bin/husk
Anonymous:            12 kB
004ef000-004f5000 rw-p 00000000 00:00 0
Anonymous:            12 kB
7fff3f77c000-7fff3f79d000 rw-p 00000000 00:00 0 [stack]
Anonymous:            24 kB
";
        assert_eq!(
            file_only_ranges(smaps),
            [(0x200000, 0x2be000), (0x2be000, 0x4e6000)]
        );
    }
}
