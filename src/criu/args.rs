//! CRIU's command lines for dump, pre-dump and restore: pure builders
//! with runc's options, so that what husk asks of CRIU is unit-tested.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{DUMP_LOG, RESTORE_LOG};

/// `--manage-cgroups` modes (runc's --manage-cgroups-mode values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupsMode {
    Soft,
    Full,
    Strict,
    Ignore,
}

impl CgroupsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupsMode::Soft => "soft",
            CgroupsMode::Full => "full",
            CgroupsMode::Strict => "strict",
            CgroupsMode::Ignore => "ignore",
        }
    }

    fn arg(mode: Option<CgroupsMode>) -> String {
        match mode {
            // CRIU's default (soft), as runc's DEFAULT mode leaves it.
            None => "--manage-cgroups".into(),
            Some(m) => format!("--manage-cgroups={}", m.as_str()),
        }
    }
}

/// Options shared by dump and restore (runc's flags of the same names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Common {
    pub images: PathBuf,
    /// Logs and CRIU's scratch files (default: the image directory).
    pub work: PathBuf,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups: Option<CgroupsMode>,
    /// The container has a network namespace of its own: CRIU recreates
    /// it empty (runc always asks for that; lo is brought up again by the
    /// restore's action script).
    pub empty_net: bool,
}

impl Common {
    fn push(&self, args: &mut Vec<OsString>, log: &str) {
        args.push("--images-dir".into());
        args.push(self.images.clone().into());
        args.push("--work-dir".into());
        args.push(self.work.clone().into());
        args.push("--log-file".into());
        args.push(log.into());
        // runc's log level: everything, so a failure can be explained.
        args.push("-v4".into());
        args.push(CgroupsMode::arg(self.manage_cgroups).into());
        for (on, flag) in [
            (self.tcp_established, "--tcp-established"),
            (self.ext_unix_sk, "--ext-unix-sk"),
            (self.shell_job, "--shell-job"),
            (self.file_locks, "--file-locks"),
        ] {
            if on {
                args.push(flag.into());
            }
        }
        if self.empty_net {
            args.push("--empty-ns".into());
            args.push("net".into());
        }
    }
}

/// A dump (or pre-dump) of the tree under `pid`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dump {
    pub common: Common,
    pub pid: i32,
    /// The container's rootfs: CRIU records mounts relative to it.
    pub root: PathBuf,
    pub pre_dump: bool,
    pub leave_running: bool,
    /// A previous (pre-)dump, relative to the image directory.
    pub parent: Option<PathBuf>,
    /// The cgroup to freeze the tree with (v1 freezer or the v2 cgroup).
    pub freeze_cgroup: Option<PathBuf>,
    /// `--external` values: mounts (`mnt[/dest]:/dest`), files from outside
    /// the container (`file[mnt_id:inode]`), joined namespaces.
    pub externals: Vec<String>,
    /// Lock the network with nftables (when iptables is not installed).
    pub nftables_lock: bool,
}

impl Dump {
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![if self.pre_dump { "pre-dump" } else { "dump" }.into()];
        a.push("--tree".into());
        a.push(self.pid.to_string().into());
        self.common.push(&mut a, DUMP_LOG);
        a.push("--root".into());
        a.push(self.root.clone().into());
        if self.leave_running && !self.pre_dump {
            a.push("--leave-running".into());
        }
        if let Some(p) = &self.parent {
            a.push("--prev-images-dir".into());
            a.push(p.clone().into());
            a.push("--track-mem".into());
        }
        if let Some(cg) = &self.freeze_cgroup {
            a.push("--freeze-cgroup".into());
            a.push(cg.clone().into());
        }
        if self.nftables_lock {
            a.push("--network-lock".into());
            a.push("nftables".into());
        }
        for e in &self.externals {
            a.push("--external".into());
            a.push(e.into());
        }
        a
    }
}

/// A restore into `root` (a mount point holding the rootfs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restore {
    pub common: Common,
    pub root: PathBuf,
    pub pidfile: PathBuf,
    /// `--cgroup-root` values: `CONTROLLERS:/path` (v1) or `/path` (v2).
    pub cgroup_roots: Vec<String>,
    /// `--external mnt[KEY]:SOURCE` values.
    pub externals: Vec<String>,
    /// (fd in criu, the dumped resource it stands for).
    pub inherit: Vec<(i32, String)>,
    pub action_script: Option<PathBuf>,
}

impl Restore {
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["restore".into()];
        self.common.push(&mut a, RESTORE_LOG);
        a.push("--root".into());
        a.push(self.root.clone().into());
        // Detached, and the restored init a sibling of criu: the child of
        // whoever ran criu (husk, or the shim), who can then wait for it.
        a.push("--restore-detached".into());
        a.push("--restore-sibling".into());
        a.push("--pidfile".into());
        a.push(self.pidfile.clone().into());
        // Device nodes may sit elsewhere on this host (runc sets it too).
        a.push("--evasive-devices".into());
        for r in &self.cgroup_roots {
            a.push("--cgroup-root".into());
            a.push(r.into());
        }
        for e in &self.externals {
            a.push("--external".into());
            a.push(e.into());
        }
        for (fd, key) in &self.inherit {
            a.push("--inherit-fd".into());
            a.push(format!("fd[{fd}]:{key}").into());
        }
        if let Some(s) = &self.action_script {
            a.push("--action-script".into());
            a.push(s.clone().into());
        }
        a
    }
}

/// `--cgroup-root` values for a container whose cgroup directories are
/// `paths` (controllers → directory, "" for cgroup2), given where each
/// hierarchy is mounted: paths as the hierarchy names them, as runc passes
/// the ones it reads from /proc/<criu>/cgroup. The cgroup2 one has no
/// controller prefix, which makes it CRIU's default root.
pub fn cgroup_root_args(
    layout: &crate::cgroups::Layout,
    paths: &std::collections::BTreeMap<String, PathBuf>,
) -> Vec<String> {
    let in_hierarchy = |m: &crate::cgroups::Mount, dir: &Path| -> Option<String> {
        let rel = dir.strip_prefix(&m.mountpoint).ok()?;
        Some(Path::new("/").join(&m.root).join(rel).display().to_string())
    };
    let mut out = Vec::new();
    for m in &layout.v1 {
        if let Some(p) = paths.get(&m.controllers).and_then(|d| in_hierarchy(m, d)) {
            out.push(format!("{}:{p}", m.controllers));
        }
    }
    if let Some(m) = &layout.unified {
        if let Some(p) = paths.get("").and_then(|d| in_hierarchy(m, d)) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::criu::ExternalMount;

    #[test]
    fn dump_args_follow_runc() {
        let d = Dump {
            common: Common {
                images: "/img".into(),
                work: "/work".into(),
                tcp_established: true,
                file_locks: true,
                empty_net: true,
                ..Default::default()
            },
            pid: 42,
            root: "/b/rootfs".into(),
            leave_running: true,
            freeze_cgroup: Some("/sys/fs/cgroup/c".into()),
            externals: vec![
                "mnt[/sys/fs/cgroup]:/sys/fs/cgroup".into(),
                "file[18:4]".into(),
            ],
            nftables_lock: true,
            parent: Some("../pre".into()),
            ..Default::default()
        };
        let got: Vec<String> = d
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            got.join(" "),
            "dump --tree 42 --images-dir /img --work-dir /work --log-file dump.log -v4 \
             --manage-cgroups --tcp-established --file-locks --empty-ns net --root /b/rootfs \
             --leave-running --prev-images-dir ../pre --track-mem --freeze-cgroup /sys/fs/cgroup/c \
             --network-lock nftables --external mnt[/sys/fs/cgroup]:/sys/fs/cgroup --external file[18:4]"
        );
        let pre = Dump {
            pre_dump: true,
            leave_running: true,
            ..d
        };
        let got = pre.args();
        assert_eq!(got[0], "pre-dump");
        // pre-dump always leaves the tree running; CRIU rejects the flag there.
        assert!(!got.iter().any(|a| a == "--leave-running"));
    }

    #[test]
    fn restore_args_make_the_init_a_sibling_of_criu() {
        let r = Restore {
            common: Common {
                images: "/img".into(),
                work: "/img".into(),
                manage_cgroups: Some(CgroupsMode::Ignore),
                ..Default::default()
            },
            root: "/run/husk/c/criu-root".into(),
            pidfile: "/run/husk/c/criu.pid".into(),
            cgroup_roots: vec!["/system.slice/c".into()],
            externals: vec![ExternalMount::restore_arg(
                Path::new("/sys/fs/cgroup/system.slice/c"),
                "/sys/fs/cgroup",
            )],
            inherit: vec![(3, "pipe:[305]".into())],
            action_script: Some("/run/husk/c/criu-action".into()),
        };
        let got: Vec<String> = r
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            got.join(" "),
            "restore --images-dir /img --work-dir /img --log-file restore.log -v4 \
             --manage-cgroups=ignore --root /run/husk/c/criu-root --restore-detached \
             --restore-sibling --pidfile /run/husk/c/criu.pid --evasive-devices \
             --cgroup-root /system.slice/c --external mnt[/sys/fs/cgroup]:/sys/fs/cgroup/system.slice/c \
             --inherit-fd fd[3]:pipe:[305] --action-script /run/husk/c/criu-action"
        );
    }

    #[test]
    fn cgroup_roots_are_paths_within_each_hierarchy() {
        let layout = crate::cgroups::Layout::parse(
            "30 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
             32 25 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
        );
        let mut paths = std::collections::BTreeMap::new();
        paths.insert(
            "memory".to_string(),
            PathBuf::from("/sys/fs/cgroup/memory/user.slice/c"),
        );
        paths.insert(
            "cpu,cpuacct".to_string(),
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/user.slice/c"),
        );
        paths.insert(
            "".to_string(),
            PathBuf::from("/sys/fs/cgroup/unified/user.slice/c"),
        );
        assert_eq!(
            cgroup_root_args(&layout, &paths),
            [
                "memory:/user.slice/c",
                "cpu,cpuacct:/user.slice/c",
                "/user.slice/c"
            ]
        );
        // Pure v2, the hierarchy mounted from a subtree (as in a container).
        let v2 = crate::cgroups::Layout::parse(
            "40 30 0:29 /ns /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
        );
        let mut paths = std::collections::BTreeMap::new();
        paths.insert(
            "".to_string(),
            PathBuf::from("/sys/fs/cgroup/system.slice/c"),
        );
        assert_eq!(cgroup_root_args(&v2, &paths), ["/ns/system.slice/c"]);
    }
}
