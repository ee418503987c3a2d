//! Namespaces as the config names them, as clone(2) flags and as
//! /proc/<pid>/ns/<name> entries, and the split of a config's namespace list
//! into the ones to create and the ones to join.

use std::path::PathBuf;

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

/// CLONE_NEWTIME (not in nix's CloneFlags on every version).
pub const CLONE_NEWTIME: i32 = 0x80;

/// The clone/unshare/setns flag of a namespace type; None for types husk
/// does not support.
pub fn clone_flag(t: LinuxNamespaceType) -> Option<CloneFlags> {
    use LinuxNamespaceType as T;
    Some(match t {
        T::Mount => CloneFlags::CLONE_NEWNS,
        T::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        T::Uts => CloneFlags::CLONE_NEWUTS,
        T::Ipc => CloneFlags::CLONE_NEWIPC,
        T::User => CloneFlags::CLONE_NEWUSER,
        T::Pid => CloneFlags::CLONE_NEWPID,
        T::Network => CloneFlags::CLONE_NEWNET,
        T::Time => CloneFlags::from_bits_retain(CLONE_NEWTIME),
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}

/// The entry under /proc/<pid>/ns/ for a namespace type.
pub fn proc_name(t: LinuxNamespaceType) -> &'static str {
    use LinuxNamespaceType as T;
    match t {
        T::Mount => "mnt",
        T::Cgroup => "cgroup",
        T::Uts => "uts",
        T::Ipc => "ipc",
        T::User => "user",
        T::Pid => "pid",
        T::Network => "net",
        T::Time => "time",
        #[allow(unreachable_patterns)]
        _ => "",
    }
}

/// The order in which namespaces are joined: user first (it decides what
/// we may do in the others), mount last (after it, host paths are gone).
const JOIN_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Mount,
];

/// The namespaces of a config, split into what to create and what to join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePlan {
    /// Namespaces created by the clone (time is unshared separately).
    pub new: CloneFlags,
    /// Existing namespaces to enter, in JOIN_ORDER.
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
}

impl Default for NamespacePlan {
    fn default() -> Self {
        NamespacePlan {
            new: CloneFlags::empty(),
            join: Vec::new(),
        }
    }
}

impl NamespacePlan {
    pub fn from_config(list: &[LinuxNamespace]) -> NamespacePlan {
        let mut plan = NamespacePlan::default();
        for t in JOIN_ORDER {
            let Some(ns) = list.iter().find(|n| n.typ() == t) else {
                continue;
            };
            let Some(flag) = clone_flag(t) else { continue };
            match ns.path() {
                Some(p) => plan.join.push((t, p.clone())),
                None => plan.new |= flag,
            }
        }
        plan
    }

    pub fn creates(&self, t: LinuxNamespaceType) -> bool {
        clone_flag(t).is_some_and(|f| self.new.contains(f))
    }

    pub fn joins(&self, t: LinuxNamespaceType) -> bool {
        self.join.iter().any(|(j, _)| *j == t)
    }

    /// Namespaces created by clone(2) itself. With a joined user namespace
    /// only the pid namespace is (it cannot be unshared for oneself); the
    /// rest are unshared by the init after joining, so the joined user
    /// namespace owns them. The cgroup namespace is always unshared by the
    /// init once it sits in its cgroup; the time namespace by the runtime.
    pub fn clone_flags(&self) -> CloneFlags {
        let not_here = CloneFlags::CLONE_NEWCGROUP
            | CloneFlags::CLONE_NEWNET
            | CloneFlags::from_bits_retain(CLONE_NEWTIME);
        if self.joins(LinuxNamespaceType::User) {
            self.new & CloneFlags::CLONE_NEWPID
        } else {
            self.new & !not_here
        }
    }

    /// What the init unshares itself after sync 1.
    pub fn unshare_in_child(&self) -> CloneFlags {
        let by_runtime = CloneFlags::from_bits_retain(CLONE_NEWTIME) | CloneFlags::CLONE_NEWPID;
        self.new & !self.clone_flags() & !by_runtime
    }

    /// Does the init get a pid namespace that is not the host's?
    pub fn private_pid(&self) -> bool {
        self.creates(LinuxNamespaceType::Pid) || self.joins(LinuxNamespaceType::Pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(t: LinuxNamespaceType, path: Option<&str>) -> LinuxNamespace {
        let mut n = LinuxNamespace::default();
        n.set_typ(t);
        n.set_path(path.map(PathBuf::from));
        n
    }

    #[test]
    fn new_and_joined_namespaces_are_split() {
        let plan = NamespacePlan::from_config(&[
            ns(LinuxNamespaceType::Mount, None),
            ns(LinuxNamespaceType::Network, Some("/proc/1/ns/net")),
            ns(LinuxNamespaceType::Pid, None),
            ns(LinuxNamespaceType::User, Some("/proc/1/ns/user")),
        ]);
        assert_eq!(plan.new, CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID);
        let order: Vec<_> = plan.join.iter().map(|(t, _)| *t).collect();
        assert_eq!(
            order,
            [LinuxNamespaceType::User, LinuxNamespaceType::Network]
        );
        assert!(plan.private_pid());
    }

    #[test]
    fn cgroup_namespace_is_unshared_by_the_init() {
        let plan = NamespacePlan::from_config(&[
            ns(LinuxNamespaceType::Cgroup, None),
            ns(LinuxNamespaceType::Pid, None),
        ]);
        assert_eq!(plan.clone_flags(), CloneFlags::CLONE_NEWPID);
        assert_eq!(plan.unshare_in_child(), CloneFlags::CLONE_NEWCGROUP);
    }

    #[test]
    fn with_a_joined_user_namespace_only_pid_is_cloned() {
        let plan = NamespacePlan::from_config(&[
            ns(LinuxNamespaceType::User, Some("/proc/1/ns/user")),
            ns(LinuxNamespaceType::Pid, None),
            ns(LinuxNamespaceType::Network, None),
        ]);
        assert_eq!(plan.clone_flags(), CloneFlags::CLONE_NEWPID);
        assert_eq!(plan.unshare_in_child(), CloneFlags::CLONE_NEWNET);
    }

    #[test]
    fn time_namespace_uses_its_own_flag() {
        let plan = NamespacePlan::from_config(&[ns(LinuxNamespaceType::Time, None)]);
        assert_eq!(plan.new.bits(), CLONE_NEWTIME);
    }
}
