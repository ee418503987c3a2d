//! The channel between husk and the container init it cloned: a
//! SOCK_SEQPACKET socketpair (message boundaries kept, both ends CLOEXEC).
//! Sync points are numbered the same on both sides:
//!
//! 1. parent → init `Go`: id maps written, init placed in its cgroups.
//! 2. init → parent `Hooks`: mounts are done; parent runs prestart and
//!    createRuntime hooks, then answers `HooksDone`.
//! 3. init → parent `Ready`: everything is set up, the init is about to block
//!    on exec.fifo; `create` may return.
//!
//! Either side may send `Error(text)` instead; errors cross the clone
//! boundary as rendered text (STYLE.md §3).

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
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
        let (tag, text): (u8, &str) = match self {
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
        let bytes = msg.encode();
        let iov = [IoSlice::new(&bytes)];
        let fds = fd.map(|f| [f]);
        let cmsg: Vec<ControlMessage> = fds.iter().map(|f| ControlMessage::ScmRights(f)).collect();
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
        let mut buf = vec![0u8; 64 * 1024];
        // A peer that closed with our message unread leaves ECONNRESET
        // pending, reported once ahead of what it had sent us: read again.
        let mut attempt = crate::sys::linux::recv_with_fd(self.fd.as_raw_fd(), &mut buf);
        if matches!(attempt, Err(nix::Error::ECONNRESET)) {
            attempt = crate::sys::linux::recv_with_fd(self.fd.as_raw_fd(), &mut buf);
        }
        let (n, fd) = attempt.map_err(|source| SyncError::Recv {
            peer: self.peer,
            source,
        })?;
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
        Ok((msg, fd))
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
