//! linux.seccomp → a libseccomp filter: default action (with
//! defaultErrnoRet), architectures, filter flags, rules with argument
//! conditions, SCMP_ACT_NOTIFY. Loading is the caller's choice of moment
//! (as late as possible; before dropping capabilities when no_new_privs is off).
//!
//! Runs in: container init and exec'd processes.

use std::os::fd::RawFd;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterAttr, ScmpFilterContext,
    ScmpSyscall,
};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp: {what}")]
    Build {
        what: String,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    #[error("seccomp: unknown architecture {0}")]
    Arch(String),
}

type Result<T, E = SeccompError> = std::result::Result<T, E>;

fn action(a: LinuxSeccompAction, errno: Option<u32>, default_errno: u32) -> ScmpAction {
    use LinuxSeccompAction as A;
    match a {
        A::ScmpActKill | A::ScmpActKillThread => ScmpAction::KillThread,
        A::ScmpActKillProcess => ScmpAction::KillProcess,
        A::ScmpActTrap => ScmpAction::Trap,
        A::ScmpActErrno => ScmpAction::Errno(errno.unwrap_or(default_errno) as i32),
        A::ScmpActNotify => ScmpAction::Notify,
        A::ScmpActTrace => ScmpAction::Trace(errno.unwrap_or(default_errno) as u16),
        A::ScmpActLog => ScmpAction::Log,
        A::ScmpActAllow => ScmpAction::Allow,
    }
}

fn compare(op: LinuxSeccompOperator, value: u64, value_two: Option<u64>) -> (ScmpCompareOp, u64) {
    use LinuxSeccompOperator as O;
    match op {
        O::ScmpCmpNe => (ScmpCompareOp::NotEqual, value),
        O::ScmpCmpLt => (ScmpCompareOp::Less, value),
        O::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, value),
        O::ScmpCmpEq => (ScmpCompareOp::Equal, value),
        O::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, value),
        O::ScmpCmpGt => (ScmpCompareOp::Greater, value),
        // OCI: value is the mask, valueTwo the datum.
        O::ScmpCmpMaskedEq => (ScmpCompareOp::MaskedEqual(value), value_two.unwrap_or(0)),
    }
}

/// Does the profile ask for a user-space notification listener?
pub fn uses_notify(s: &LinuxSeccomp) -> bool {
    s.syscalls()
        .iter()
        .flatten()
        .any(|r| r.action() == LinuxSeccompAction::ScmpActNotify)
}

/// Builds the filter without loading it.
pub fn build(s: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    let err = |what: String| move |source| SeccompError::Build { what, source };
    let default_errno = s.default_errno_ret().unwrap_or(libc::EPERM as u32);
    let default = action(s.default_action(), s.default_errno_ret(), default_errno);
    let mut ctx =
        ScmpFilterContext::new(default).map_err(err("cannot create the filter".into()))?;
    // husk sets no_new_privs itself when the config asks; libseccomp must not.
    ctx.set_ctl_nnp(false)
        .map_err(err("cannot clear the NNP attribute".into()))?;
    for a in s.architectures().iter().flatten() {
        let name = crate::serde_name(a);
        let arch: ScmpArch = name.parse().map_err(|_| SeccompError::Arch(name.clone()))?;
        ctx.add_arch(arch)
            .map_err(err(format!("cannot add architecture {name}")))?;
    }
    for f in s.flags().iter().flatten() {
        let (attr, what) = match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => (ScmpFilterAttr::CtlLog, "log"),
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => (ScmpFilterAttr::CtlTsync, "tsync"),
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                (ScmpFilterAttr::CtlSsb, "spec_allow")
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                (ScmpFilterAttr::CtlWaitkill, "wait_killable_recv")
            }
        };
        ctx.set_filter_attr(attr, 1)
            .map_err(err(format!("cannot set flag {what}")))?;
    }
    for rule in s.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret(), libc::EPERM as u32);
        // libseccomp refuses a rule whose action is the default one; it is a no-op anyway.
        if act == default {
            continue;
        }
        let args = rule.args().clone().unwrap_or_default();
        let conds: Vec<ScmpArgCompare> = args
            .iter()
            .map(|a| {
                let (op, datum) = compare(a.op(), a.value(), a.value_two());
                ScmpArgCompare::new(a.index() as u32, op, datum)
            })
            .collect();
        // Conditions on distinct arguments are ANDed in one rule; several on
        // the same argument become one rule each (ORed), as runc does.
        let mut seen = std::collections::HashSet::new();
        let distinct = args.iter().all(|a| seen.insert(a.index()));
        for name in rule.names() {
            let Ok(sc) = ScmpSyscall::from_name(name) else {
                log::debug!("seccomp: syscall {name} is unknown to libseccomp: rule skipped");
                continue;
            };
            let r = if conds.is_empty() {
                ctx.add_rule(act, sc)
            } else if distinct {
                ctx.add_rule_conditional(act, sc, &conds)
            } else {
                conds
                    .iter()
                    .try_for_each(|c| {
                        ctx.add_rule_conditional(act, sc, std::slice::from_ref(c))
                            .map(drop)
                    })
                    .map(|_| &mut ctx)
            };
            r.map_err(err(format!("cannot add the rule for {name}")))?;
        }
    }
    Ok(ctx)
}

/// Loads the filter into the calling process; returns the notify fd when
/// the profile has SCMP_ACT_NOTIFY rules.
pub fn load(s: &LinuxSeccomp) -> Result<Option<RawFd>> {
    let ctx = build(s)?;
    ctx.load().map_err(|source| SeccompError::Build {
        what: "cannot load the filter".into(),
        source,
    })?;
    if uses_notify(s) {
        let fd = ctx.get_notify_fd().map_err(|source| SeccompError::Build {
            what: "cannot get the notify fd".into(),
            source,
        })?;
        return Ok(Some(fd));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_style_profile_builds() {
        let s: LinuxSeccomp = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
            "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
            "syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"},
              {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
              {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"},{"index":0,"value":131072,"op":"SCMP_CMP_EQ"}]},
              {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},
              {"names":["mount"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
              {"names":["not_a_syscall"],"action":"SCMP_ACT_ALLOW"}]}"#,
        )
        .unwrap();
        build(&s).unwrap();
        assert!(!uses_notify(&s));
    }

    #[test]
    fn errno_defaults_to_eperm() {
        assert_eq!(
            action(LinuxSeccompAction::ScmpActErrno, None, libc::EPERM as u32),
            ScmpAction::Errno(libc::EPERM)
        );
        assert_eq!(
            action(LinuxSeccompAction::ScmpActErrno, Some(38), 1),
            ScmpAction::Errno(38)
        );
    }
}
