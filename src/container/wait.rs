//! `run` in the foreground: wait for the init (husk's own child), forward
//! the usual signals to it, relay its terminal if it has one, and turn its
//! end into an exit code (its status, or 128+N when killed by signal N).
//!
//! Runs in: the runtime, single-threaded: one poll loop over a pidfd, a
//! signalfd, and (with a terminal) stdin and the pty master.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::termios::{self, SetArg, Termios};
use nix::unistd::Pid;

use super::{step, Result};
use crate::sys::linux;

/// Signals `run` passes on to the container (runc's list), plus WINCH.
pub const FORWARDED: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Blocks the forwarded signals and returns the signalfd that reads them.
/// Call before `start`, so no signal sent to `run` is lost or kills husk.
pub fn catch_signals() -> Result<OwnedFd> {
    linux::block_signals_to_fd(&FORWARDED).map_err(step("set up signal forwarding"))
}

/// Exit code of a wait status: the code, or 128+signal.
pub fn exit_code(status: libc::c_int) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}

/// Restores the terminal mode when dropped.
struct RawMode {
    fd: i32,
    saved: Termios,
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(linux::borrow_fd(self.fd), SetArg::TCSANOW, &self.saved);
    }
}

fn raw_mode(fd: i32) -> Option<RawMode> {
    let f = linux::borrow_fd(fd);
    let saved = termios::tcgetattr(f).ok()?;
    let mut raw = saved.clone();
    termios::cfmakeraw(&mut raw);
    termios::tcsetattr(f, SetArg::TCSANOW, &raw).ok()?;
    Some(RawMode { fd, saved })
}

/// Gives the container's pty the size of husk's own terminal (stdin).
pub fn copy_winsize(master: &OwnedFd) {
    if let Ok(ws) = linux::get_winsize(0) {
        let _ = linux::set_winsize(master.as_raw_fd(), &ws);
    }
}

/// Waits for the init and returns its exit code.
pub fn foreground(pid: Pid, signals: OwnedFd, master: Option<OwnedFd>) -> Result<i32> {
    let pidfd = linux::pidfd_open(pid).map_err(step("watch the container init"))?;
    let _raw = master.as_ref().and_then(|m| {
        copy_winsize(m);
        raw_mode(0)
    });
    let mut stdin_open = master.is_some();
    let mut master_open = master.is_some();
    let mut buf = [0u8; 8192];
    let mut exited = None;
    loop {
        if let Some(code) = exited {
            if !master_open {
                return Ok(code);
            }
        }
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        if exited.is_none() {
            fds.push(PollFd::new(pidfd.as_fd(), PollFlags::POLLIN));
        }
        let m_idx = fds.len();
        if let (Some(m), true) = (&master, master_open) {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
        }
        let i_idx = fds.len();
        if stdin_open && master_open {
            fds.push(PollFd::new(linux::borrow_fd(0), PollFlags::POLLIN));
        }
        // Once the process is gone, drain the pty without blocking forever.
        let timeout = if exited.is_some() {
            PollTimeout::from(100u8)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(step("wait for the container")(e)),
            Ok(0) => {
                master_open = false;
                continue;
            }
            Ok(_) => {}
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (sig_ready, pid_ready, m_ready, i_ready) = (
            ready(0),
            exited.is_none() && ready(1),
            ready(m_idx) && master_open,
            ready(i_idx) && stdin_open && master_open,
        );
        drop(fds);
        if sig_ready {
            let sig = linux::read_signalfd(signals.as_fd()).map_err(step("read a signal"))?;
            match (Signal::try_from(sig), &master) {
                (Ok(Signal::SIGWINCH), Some(m)) => copy_winsize(m),
                (Ok(Signal::SIGWINCH), None) => {}
                (Ok(s), _) => {
                    let _ = linux::pidfd_send_signal(pidfd.as_fd(), s);
                }
                _ => {}
            }
        }
        if m_ready {
            let m = master.as_ref().expect("polled only with a master");
            match read_fd(m.as_fd(), &mut buf) {
                Some(n) if n > 0 => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&buf[..n]);
                    let _ = out.flush();
                }
                _ => master_open = false,
            }
        }
        if i_ready {
            match std::io::stdin().lock().read(&mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => {
                    let m = master.as_ref().expect("polled only with a master");
                    let _ = nix::unistd::write(m, &buf[..n]);
                }
            }
        }
        if pid_ready {
            let (_, status) = linux::wait_raw(pid, 0).map_err(step("reap the container init"))?;
            exited = Some(exit_code(status));
        }
    }
}

fn read_fd(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Option<usize> {
    nix::unistd::read(fd, buf).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(7 << 8), 7);
        assert_eq!(exit_code(libc::SIGKILL), 137);
        assert_eq!(exit_code(0), 0);
    }
}
