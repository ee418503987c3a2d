//! Device access rules: the spec's `linux.resources.devices` list followed by
//! the devices every container may use (runc's default allow list), in the
//! v1 text form `type major:minor access`. v1 applies them in order to
//! devices.deny/devices.allow.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// One rule, already in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    /// 'a', 'c' or 'b'.
    pub kind: char,
    /// None = any (`*`).
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// Some of "rwm".
    pub access: String,
}

impl Rule {
    /// The v1 devices.allow/devices.deny line.
    pub fn v1_line(&self) -> String {
        if self.kind == 'a' {
            return "a".into();
        }
        let n = |v: Option<i64>| v.map_or("*".to_string(), |v| v.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            self.access
        )
    }
}

/// Devices every container may use, whatever the spec says (appended
/// after the spec's rules, as runc does): mknod of any node, and the
/// standard character devices.
pub fn default_allowed() -> Vec<Rule> {
    let r = |kind, major, minor, access: &str| Rule {
        allow: true,
        kind,
        major,
        minor,
        access: access.into(),
    };
    vec![
        r('c', None, None, "m"),
        r('b', None, None, "m"),
        r('c', Some(1), Some(3), "rwm"), // null
        r('c', Some(1), Some(8), "rwm"), // random
        r('c', Some(1), Some(7), "rwm"), // full
        r('c', Some(5), Some(0), "rwm"), // tty
        r('c', Some(1), Some(5), "rwm"), // zero
        r('c', Some(1), Some(9), "rwm"), // urandom
        r('c', Some(136), None, "rwm"),  // pts/*
        r('c', Some(5), Some(2), "rwm"), // ptmx
    ]
}

/// The spec's rules in order, then the defaults.
pub fn rules(spec: &[LinuxDeviceCgroup]) -> Vec<Rule> {
    let mut out: Vec<Rule> = spec
        .iter()
        .map(|d| Rule {
            allow: d.allow(),
            kind: match d.typ() {
                None | Some(LinuxDeviceType::A) => 'a',
                Some(LinuxDeviceType::B) => 'b',
                Some(_) => 'c',
            },
            major: d.major().filter(|m| *m >= 0),
            minor: d.minor().filter(|m| *m >= 0),
            access: d
                .access()
                .clone()
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| "rwm".into()),
        })
        .collect();
    out.extend(default_allowed());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_all_then_defaults() {
        let mut deny = LinuxDeviceCgroup::default();
        deny.set_allow(false);
        deny.set_access(Some("rwm".into()));
        let r = rules(&[deny]);
        assert_eq!(r[0].v1_line(), "a");
        assert!(!r[0].allow);
        assert!(r.iter().any(|x| x.allow && x.v1_line() == "c 1:3 rwm"));
        assert!(r.iter().any(|x| x.allow && x.v1_line() == "c 136:* rwm"));
    }
}
