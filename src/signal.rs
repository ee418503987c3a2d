//! Signal names as users and engines write them: `KILL`, `SIGKILL`,
//! `sigkill`, or a decimal number (engines always send numbers).

use nix::sys::signal::Signal;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid signal {0:?}: use a name such as TERM, SIGKILL or a number 1-64")]
pub struct BadSignal(pub String);

/// A signal given by name or number. Real-time signals (34-64) are
/// accepted by number or as RTMIN+N / RTMAX-N.
pub fn parse(s: &str) -> Result<i32, BadSignal> {
    let bad = || BadSignal(s.to_string());
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some(rest) = name.strip_prefix("RTMIN") {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('+')
                .and_then(|r| r.parse().ok())
                .ok_or_else(bad)?
        };
        let n = libc::SIGRTMIN() + off;
        return if n <= libc::SIGRTMAX() {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('-')
                .and_then(|r| r.parse().ok())
                .ok_or_else(bad)?
        };
        let n = libc::SIGRTMAX() - off;
        return if n >= libc::SIGRTMIN() {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    format!("SIG{name}")
        .parse::<Signal>()
        .map(|s| s as i32)
        .map_err(|_| bad())
}

/// As a nix Signal when it is a standard one (real-time signals are not).
pub fn to_signal(n: i32) -> Result<Signal, BadSignal> {
    Signal::try_from(n).map_err(|_| BadSignal(n.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        for s in ["KILL", "SIGKILL", "kill", "sigkill", "9"] {
            assert_eq!(parse(s), Ok(9), "{s}");
        }
        assert_eq!(parse("TERM"), Ok(15));
        assert_eq!(parse("USR1"), Ok(10));
        assert_eq!(parse("RTMIN+1"), Ok(libc::SIGRTMIN() + 1));
    }

    #[test]
    fn bad_signals_are_refused() {
        for s in ["", "0", "65", "-1", "NOPE", "SIGFOO", "RTMIN+99"] {
            assert!(parse(s).is_err(), "{s}");
        }
        assert_eq!(
            parse("NOPE").unwrap_err().to_string(),
            "invalid signal \"NOPE\": use a name such as TERM, SIGKILL or a number 1-64"
        );
    }
}
