//! The channel between husk and the container init it cloned: a
//! SOCK_SEQPACKET socketpair (message boundaries kept, both ends CLOEXEC).
//! Sync points are numbered the same on both sides:
//!
//! 0. parent → init `Join`, with an fd for each v1 hierarchy's `tasks`
//!    file: the cgroup is made and limited (the parent does that while the
//!    init sets up what needs no cgroup). The init joins them; it waits for
//!    this before the first mount that shows its cgroup, and before sync 1.
//! 1. parent → init `Go`: id maps written, init placed in its cgroups.
//! 2. init → parent `Hooks`: mounts are done; parent runs prestart and
//!    createRuntime hooks, then answers `HooksDone`. Only when the config
//!    has such hooks.
//! 3. init → parent `Ready`: everything is set up, the init is about to block
//!    on exec.fifo; `create` may return.
//!
//! Either side may send `Error(text)` instead; errors cross the clone
//! boundary as rendered text (STYLE.md §3).

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use nix::sys::socket::{
    sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// The cgroup directories whose `tasks` files come with this message,
    /// in the same order.
    Join(Vec<PathBuf>),
    /// Carries the init's pid as the runtime sees it.
    Go(i32),
    Hooks,
    HooksDone,
    Ready,
    /// The init sends the seccomp notify fd alongside this message.
    SeccompFd,
    SeccompDone,
    Error(String),
}

impl Msg {
    fn encode(&self) -> Vec<u8> {
        if let Msg::Join(dirs) = self {
            // NUL-separated: the one byte a path cannot hold.
            let mut v = vec![7];
            for (i, d) in dirs.iter().enumerate() {
                if i > 0 {
                    v.push(0);
                }
                v.extend_from_slice(d.as_os_str().as_bytes());
            }
            return v;
        }
        let (tag, text): (u8, &str) = match self {
            Msg::Join(_) => unreachable!("encoded above"),
            Msg::Go(_) => (1, ""),
            Msg::Hooks => (2, ""),
            Msg::HooksDone => (3, ""),
            Msg::Ready => (4, ""),
            Msg::SeccompFd => (5, ""),
            Msg::SeccompDone => (6, ""),
            Msg::Error(t) => (255, t),
        };
        let mut v = Vec::with_capacity(5 + text.len());
        v.push(tag);
        if let Msg::Go(pid) = self {
            v.extend_from_slice(&pid.to_le_bytes());
        }
        v.extend_from_slice(text.as_bytes());
        v
    }

    fn decode(b: &[u8]) -> Option<Msg> {
        Some(match *b.first()? {
            1 => Msg::Go(i32::from_le_bytes(b.get(1..5)?.try_into().ok()?)),
            2 => Msg::Hooks,
            3 => Msg::HooksDone,
            4 => Msg::Ready,
            5 => Msg::SeccompFd,
            6 => Msg::SeccompDone,
            7 if b.len() == 1 => Msg::Join(Vec::new()),
            7 => Msg::Join(
                b[1..]
                    .split(|c| *c == 0)
                    .map(|d| PathBuf::from(std::ffi::OsString::from_vec(d.to_vec())))
                    .collect(),
            ),
            255 => Msg::Error(String::from_utf8_lossy(&b[1..]).into_owned()),
            _ => return None,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("failed to create the sync socket")]
    Create(#[source] nix::Error),
    #[error("failed to send {what} to the {peer}")]
    Send {
        what: &'static str,
        peer: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("failed to receive from the {peer}")]
    Recv {
        peer: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("the {peer} exited while the runtime waited for {expected}")]
    Closed {
        peer: &'static str,
        expected: &'static str,
    },
    #[error("{0}")]
    Remote(String),
    #[error("protocol error: expected {expected}, got {got:?}")]
    Unexpected { expected: &'static str, got: Msg },
}

/// One end of the sync socket.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
    peer: &'static str,
}

/// Makes the pair: (parent's end, init's end).
pub fn pair() -> Result<(Channel, Channel), SyncError> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(SyncError::Create)?;
    Ok((
        Channel {
            fd: a,
            peer: "container init",
        },
        Channel {
            fd: b,
            peer: "runtime",
        },
    ))
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> Result<(), SyncError> {
        self.send_with_fd(msg, None)
    }

    pub fn send_with_fd(&self, msg: &Msg, fd: Option<RawFd>) -> Result<(), SyncError> {
        self.send_with_fds(msg, fd.as_slice())
    }

    pub fn send_with_fds(&self, msg: &Msg, fds: &[RawFd]) -> Result<(), SyncError> {
        let bytes = msg.encode();
        let iov = [IoSlice::new(&bytes)];
        let cmsg: Vec<ControlMessage> = if fds.is_empty() {
            Vec::new()
        } else {
            vec![ControlMessage::ScmRights(fds)]
        };
        loop {
            match sendmsg::<()>(
                self.fd.as_raw_fd(),
                &iov,
                &cmsg,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Err(nix::Error::EINTR) => continue,
                Err(source) => {
                    return Err(SyncError::Send {
                        what: msg_name(msg),
                        peer: self.peer,
                        source,
                    })
                }
                Ok(_) => return Ok(()),
            }
        }
    }

    /// Receives one message (and an fd, if one came with it).
    pub fn recv_with_fd(
        &self,
        expected: &'static str,
    ) -> Result<(Msg, Option<OwnedFd>), SyncError> {
        let (msg, fds) = self.recv_with_fds(expected)?;
        Ok((msg, fds.into_iter().next()))
    }

    /// Receives one message and the fds that came with it.
    pub fn recv_with_fds(&self, expected: &'static str) -> Result<(Msg, Vec<OwnedFd>), SyncError> {
        // A peer that closed with our message unread leaves ECONNRESET
        // pending, reported once, ahead of what it had sent us, by whichever
        // call comes next: the peek, or the receive after it.
        let mut reset = false;
        let len = self.once_more_on_reset(&mut reset, crate::sys::linux::peek_len)?;
        self.recv_sized(len, &mut reset, expected)
    }

    /// Receives the message `peek_len` said is `len` bytes long. Sized by
    /// the peek: a 64 KiB buffer zeroed for every message cost 16 page
    /// faults, and in the init, just cloned, each of them a copy on write.
    fn recv_sized(
        &self,
        len: usize,
        reset: &mut bool,
        expected: &'static str,
    ) -> Result<(Msg, Vec<OwnedFd>), SyncError> {
        let mut buf = vec![0u8; len];
        let (n, fds) = if buf.is_empty() {
            (0, Vec::new()) // the peer is gone: every message has a tag byte
        } else {
            self.once_more_on_reset(reset, |sock| {
                crate::sys::linux::recv_with_fds(sock, &mut buf)
            })?
        };
        if n == 0 {
            return Err(SyncError::Closed {
                peer: self.peer,
                expected,
            });
        }
        let msg = Msg::decode(&buf[..n]).ok_or(SyncError::Unexpected {
            expected,
            got: Msg::Error(format!("{} undecodable bytes", n)),
        })?;
        Ok((msg, fds))
    }

    fn once_more_on_reset<T>(
        &self,
        reset: &mut bool,
        mut call: impl FnMut(RawFd) -> nix::Result<T>,
    ) -> Result<T, SyncError> {
        loop {
            match call(self.fd.as_raw_fd()) {
                Err(nix::Error::ECONNRESET) if !*reset => *reset = true,
                r => {
                    return r.map_err(|source| SyncError::Recv {
                        peer: self.peer,
                        source,
                    })
                }
            }
        }
    }

    /// Waits for `want`; an `Error` from the peer becomes `SyncError::Remote`.
    pub fn expect(&self, want: Msg, expected: &'static str) -> Result<(), SyncError> {
        match self.recv_with_fd(expected)?.0 {
            m if m == want => Ok(()),
            Msg::Error(text) => Err(SyncError::Remote(text)),
            got => Err(SyncError::Unexpected { expected, got }),
        }
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn msg_name(m: &Msg) -> &'static str {
    match m {
        Msg::Join(_) => "cgroups",
        Msg::Go(_) => "go",
        Msg::Hooks => "hooks request",
        Msg::HooksDone => "hooks done",
        Msg::Ready => "ready",
        Msg::SeccompFd => "seccomp fd",
        Msg::SeccompDone => "seccomp done",
        Msg::Error(_) => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for m in [
            Msg::Join(vec![]),
            Msg::Join(vec!["/sys/fs/cgroup/pids/a b".into(), "/x\ny".into()]),
            Msg::Go(4242),
            Msg::Hooks,
            Msg::HooksDone,
            Msg::Ready,
            Msg::Error("boom: x".into()),
        ] {
            assert_eq!(Msg::decode(&m.encode()), Some(m));
        }
        assert_eq!(Msg::decode(&[]), None);
        assert_eq!(Msg::decode(&[77]), None);
    }

    #[test]
    fn a_message_sent_before_the_peer_closed_unread_still_arrives() {
        let (a, b) = pair().unwrap();
        // b leaves a's message unread, answers, and goes.
        a.send(&Msg::Go(1)).unwrap();
        b.send(&Msg::Error("mount failed".into())).unwrap();
        drop(b);
        let e = a.expect(Msg::Ready, "ready").unwrap_err();
        assert_eq!(e.to_string(), "mount failed");
    }

    #[test]
    fn join_carries_one_fd_per_directory_in_order() {
        use std::io::{Read, Seek, Write};
        let (a, b) = pair().unwrap();
        let mut files: Vec<std::fs::File> = (0..12).map(|_| tempfile()).collect();
        for (i, f) in files.iter_mut().enumerate() {
            write!(f, "{i}").unwrap();
        }
        let dirs: Vec<PathBuf> = (0..12).map(|i| format!("/cg/{i}").into()).collect();
        let raw: Vec<RawFd> = files.iter().map(|f| f.as_raw_fd()).collect();
        a.send_with_fds(&Msg::Join(dirs.clone()), &raw).unwrap();
        let (msg, fds) = b.recv_with_fds("cgroups").unwrap();
        assert_eq!(msg, Msg::Join(dirs));
        assert_eq!(fds.len(), 12);
        for (i, fd) in fds.into_iter().enumerate() {
            let mut f = std::fs::File::from(fd);
            f.rewind().unwrap();
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            assert_eq!(s, i.to_string());
        }
    }

    fn tempfile() -> std::fs::File {
        let path = std::env::temp_dir().join(format!(
            "husk-sync-test-{}-{:?}",
            std::process::id(),
            std::time::Instant::now()
        ));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }

    #[test]
    fn a_peer_that_closes_between_the_peek_and_the_receive_still_is_heard() {
        // The reset is set after the peek has sized the message: the
        // receive meets it first (this failed an init's error report once).
        let (a, b) = pair().unwrap();
        a.send(&Msg::Go(1)).unwrap();
        b.send(&Msg::Error("mount failed".into())).unwrap();
        let len = crate::sys::linux::peek_len(a.raw_fd()).unwrap();
        drop(b);
        let mut reset = false;
        let (msg, _) = a.recv_sized(len, &mut reset, "ready").unwrap();
        assert_eq!(msg, Msg::Error("mount failed".into()));
    }

    #[test]
    fn a_message_of_any_size_arrives_whole() {
        // Sized by a peek, not by a fixed buffer: the long error of an init
        // arrives whole, and the short message after it alone.
        let (a, b) = pair().unwrap();
        let long = "x".repeat(100 * 1024);
        b.send(&Msg::Error(long.clone())).unwrap();
        b.send(&Msg::Go(7)).unwrap();
        assert_eq!(a.recv_with_fd("error").unwrap().0, Msg::Error(long));
        assert_eq!(a.recv_with_fd("go").unwrap().0, Msg::Go(7));
    }

    #[test]
    fn channel_carries_messages_and_errors() {
        let (a, b) = pair().unwrap();
        b.send(&Msg::Ready).unwrap();
        a.expect(Msg::Ready, "ready").unwrap();
        b.send(&Msg::Error("mount failed".into())).unwrap();
        let e = a.expect(Msg::Ready, "ready").unwrap_err();
        assert_eq!(e.to_string(), "mount failed");
        drop(b);
        let e = a.expect(Msg::Ready, "ready").unwrap_err();
        assert!(matches!(e, SyncError::Closed { .. }), "{e}");
    }
}
