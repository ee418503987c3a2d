//! The cgroup v2 driver: one directory in the unified tree. Controllers are
//! enabled in the parents' cgroup.subtree_control on the way down; resources
//! are converted from the v1-shaped OCI values (runc's conversions).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use super::stats::{parse_io_stat_v2, read_keyed, read_u64, Hugetlb, MemoryEntry, Stats};
use super::{
    is_permission, mkdir_all, read, read_pids, remove_made, write, CgroupError, Driver, Part,
    Result, Rootless,
};
use crate::store::CgroupRecord;

/// Controllers husk enables for containers.
const WANTED: [&str; 8] = [
    "cpu", "cpuset", "io", "memory", "pids", "hugetlb", "rdma", "misc",
];

#[derive(Debug)]
pub struct V2 {
    dir: PathBuf,
    /// Where the cgroup2 hierarchy is mounted (the walk for controllers stops there).
    mountpoint: PathBuf,
    made: Vec<PathBuf>,
    rootless: Option<Rootless>,
    /// Rootless: the directory could not be made, or the init could not
    /// be moved into it (not delegated): the container runs without it.
    skipped: bool,
}

/// OCI cpu.shares (2..262144) → cgroup2 cpu.weight (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// OCI blkio weight (10..1000) → cgroup2 io.weight (1..10000).
pub fn blkio_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w.clamp(10, 1000)) - 10) * 9999 / 990
}

/// OCI memory.swap is memory+swap; cgroup2 wants swap alone.
pub fn swap_max(limit: i64, swap: i64) -> Option<String> {
    match (limit, swap) {
        (_, 0) => None,
        (_, -1) => Some("max".into()),
        (0 | -1, s) => Some(s.to_string()),
        (l, s) => Some((s - l).max(0).to_string()),
    }
}

impl V2 {
    pub fn new(dir: PathBuf, mountpoint: PathBuf, rootless: Option<Rootless>) -> V2 {
        V2 {
            dir,
            mountpoint,
            made: Vec::new(),
            rootless,
            skipped: false,
        }
    }

    pub fn from_record(rec: &CgroupRecord) -> V2 {
        V2 {
            dir: rec.paths.get("").cloned().unwrap_or_default(),
            mountpoint: PathBuf::from("/sys/fs/cgroup"),
            made: rec.created.clone(),
            rootless: None,
            skipped: false,
        }
    }

    /// Enables the available controllers in cgroup.subtree_control of every
    /// ancestor from the hierarchy root down to the leaf's parent (runc's
    /// walk), writing only where something is missing. Best effort, as in
    /// runc: an ancestor with processes of its own refuses every controller
    /// (EBUSY), one not delegated to us refuses with EACCES; a container that
    /// asks for no resource of such a controller still runs, and one that
    /// does gets `NotEnabled` from `need`.
    fn enable_controllers(&self) {
        let mut chain: Vec<&Path> = self
            .dir
            .ancestors()
            .skip(1)
            .take_while(|a| a.starts_with(&self.mountpoint))
            .collect();
        chain.reverse();
        for d in chain {
            let avail = read(d, "cgroup.controllers").unwrap_or_default();
            let enabled = read(d, "cgroup.subtree_control").unwrap_or_default();
            let missing: Vec<String> = avail
                .split_whitespace()
                .filter(|c| WANTED.contains(c) && !enabled.split_whitespace().any(|e| e == *c))
                .map(|c| format!("+{c}"))
                .collect();
            if missing.is_empty() || write(d, "cgroup.subtree_control", &missing.join(" ")).is_ok()
            {
                continue;
            }
            // One at a time, so that one refused controller costs no other.
            for c in &missing {
                if let Err(e) = write(d, "cgroup.subtree_control", c) {
                    log::debug!("cannot enable a controller: {e}");
                }
            }
        }
    }

    fn has(&self, controller: &str) -> bool {
        read(&self.dir, "cgroup.controllers")
            .is_ok_and(|c| c.split_whitespace().any(|x| x == controller))
    }

    fn need(&self, controller: &'static str, resource: &'static str) -> Result<&Path> {
        if self.skipped {
            return Err(CgroupError::NotDelegated {
                resource,
                path: self.dir.clone(),
            });
        }
        if self.has(controller) {
            return Ok(&self.dir);
        }
        // The host has it, but it could not be enabled on the way down.
        let on_host = read(&self.mountpoint, "cgroup.controllers")
            .is_ok_and(|c| c.split_whitespace().any(|x| x == controller));
        Err(if on_host {
            CgroupError::NotEnabled {
                resource,
                controller,
                parent: self.dir.parent().unwrap_or(&self.dir).to_path_buf(),
            }
        } else {
            CgroupError::Unsupported {
                resource,
                controller,
            }
        })
    }
}

impl Driver for V2 {
    fn create(&mut self, part: Part) -> Result<()> {
        // The one directory is the clone target.
        if part == Part::Rest {
            return Ok(());
        }
        let Some(rootless) = &self.rootless else {
            mkdir_all(&self.dir, &mut self.made)?;
            self.enable_controllers();
            return Ok(());
        };
        let usable = match mkdir_all(&self.dir, &mut self.made) {
            Ok(()) => rootless
                .own_v2
                .as_deref()
                .is_none_or(|own| super::may_migrate(own, &self.dir)),
            Err(CgroupError::Create { source, .. }) if is_permission(&source) => false,
            Err(e) => return Err(e),
        };
        if !usable {
            let made = std::mem::take(&mut self.made);
            remove_made(&made, std::slice::from_ref(&self.dir))?;
            self.skipped = true;
            super::note_skipped(&[("", &self.dir)], true);
            return Ok(());
        }
        self.enable_controllers();
        Ok(())
    }

    fn apply(&self, res: &LinuxResources) -> Result<()> {
        let nz = |v: Option<i64>| v.filter(|v| *v != 0);
        if let Some(m) = res.memory() {
            let limit = nz(m.limit());
            let swap = nz(m.swap());
            if limit.is_some()
                || swap.is_some()
                || nz(m.reservation()).is_some()
                || m.disable_oom_killer() == Some(true)
            {
                let dir = self.need("memory", "a memory limit")?;
                if let Some(l) = limit {
                    write(
                        dir,
                        "memory.max",
                        &if l < 0 { "max".into() } else { l.to_string() },
                    )?;
                }
                if let Some(s) = swap_max(limit.unwrap_or(0), swap.unwrap_or(0)) {
                    if !dir.join("memory.swap.max").exists() {
                        return Err(CgroupError::Unsupported {
                            resource: "a swap limit (memory.swap)",
                            controller: "memory (swap accounting)",
                        });
                    }
                    write(dir, "memory.swap.max", &s)?;
                }
                if let Some(r) = nz(m.reservation()) {
                    write(dir, "memory.low", &r.to_string())?;
                }
                if m.disable_oom_killer() == Some(true) {
                    log::warn!("memory.disableOOMKiller has no cgroup v2 equivalent: ignored");
                }
            }
        }
        if let Some(c) = res.cpu() {
            let quota = c.quota().filter(|q| *q != 0);
            let period = c.period().filter(|p| *p != 0);
            if c.shares().is_some_and(|s| s != 0)
                || quota.is_some()
                || period.is_some()
                || c.idle().is_some()
                || c.burst().is_some()
            {
                let dir = self.need("cpu", "a cpu limit")?;
                if let Some(s) = c.shares().filter(|s| *s != 0) {
                    write(dir, "cpu.weight", &shares_to_weight(s).to_string())?;
                }
                if quota.is_some() || period.is_some() {
                    let q = match quota {
                        Some(q) if q > 0 => q.to_string(),
                        _ => "max".into(),
                    };
                    let p = period.unwrap_or(100_000);
                    write(dir, "cpu.max", &format!("{q} {p}"))?;
                }
                if let Some(b) = c.burst() {
                    write(dir, "cpu.max.burst", &b.to_string())?;
                }
                if let Some(i) = c.idle() {
                    write(dir, "cpu.idle", &i.to_string())?;
                }
            }
            if c.realtime_runtime().is_some_and(|v| v != 0)
                || c.realtime_period().is_some_and(|v| v != 0)
            {
                return Err(CgroupError::Unsupported {
                    resource: "realtime cpu scheduling",
                    controller: "cpu (cgroup v2 has no rt_runtime)",
                });
            }
            if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                write(self.need("cpuset", "cpuset cpus")?, "cpuset.cpus", cpus)?;
            }
            if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                write(self.need("cpuset", "cpuset mems")?, "cpuset.mems", mems)?;
            }
        }
        if let Some(p) = res.pids() {
            let dir = self.need("pids", "a pids limit")?;
            let l = p.limit();
            write(
                dir,
                "pids.max",
                &if l > 0 { l.to_string() } else { "max".into() },
            )?;
        }
        if let Some(b) = res.block_io() {
            if let Some(w) = b.weight().filter(|w| *w != 0) {
                write(
                    self.need("io", "blockIO.weight")?,
                    "io.weight",
                    &blkio_to_io_weight(w).to_string(),
                )?;
            }
            for d in b.weight_device().iter().flatten() {
                if let Some(w) = d.weight() {
                    let line = format!("{}:{} {}", d.major(), d.minor(), blkio_to_io_weight(w));
                    write(self.need("io", "blockIO.weightDevice")?, "io.weight", &line)?;
                }
            }
            let lists = [
                ("rbps", b.throttle_read_bps_device()),
                ("wbps", b.throttle_write_bps_device()),
                ("riops", b.throttle_read_iops_device()),
                ("wiops", b.throttle_write_iops_device()),
            ];
            for (key, list) in lists {
                for d in list.iter().flatten() {
                    let line = format!("{}:{} {key}={}", d.major(), d.minor(), d.rate());
                    write(self.need("io", "a block io throttle")?, "io.max", &line)?;
                }
            }
        }
        for h in res.hugepage_limits().iter().flatten() {
            let dir = self.need("hugetlb", "a hugetlb limit")?;
            write(
                dir,
                &format!("hugetlb.{}.max", h.page_size()),
                &h.limit().to_string(),
            )?;
        }
        for (k, v) in res.unified().iter().flatten() {
            if self.skipped {
                return Err(CgroupError::NotDelegated {
                    resource: "linux.resources.unified",
                    path: self.dir.clone(),
                });
            }
            if k.contains('/') || k.starts_with('.') {
                return Err(CgroupError::InvalidPath {
                    path: k.clone(),
                    why: "a linux.resources.unified key must be a file name",
                });
            }
            write(&self.dir, k, v)?;
        }
        let devices = res.devices().as_ref().filter(|d| !d.is_empty());
        if let (Some(_), Some(_)) = (devices, &self.rootless) {
            // Loading a BPF program is privileged; runc skips device rules
            // rootless too. The container has only the nodes husk bound in.
            log::debug!("rootless: device rules are not enforced");
        } else if let Some(list) = devices {
            // cgroup v2 has no devices files: an eBPF program with the v1
            // list's meaning decides each access.
            let program = super::devices::bpf_program(&super::devices::rules(list));
            let prog =
                crate::sys::linux::bpf_load_device_program(&program).map_err(|(e, log)| {
                    CgroupError::Device {
                        what: format!(
                            "load the device program ({} instructions): {log}",
                            program.len()
                        ),
                        source: e,
                    }
                })?;
            let dir = nix::fcntl::open(
                &self.dir,
                nix::fcntl::OFlag::O_RDONLY
                    | nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(|e| CgroupError::Device {
                what: format!("open {}", self.dir.display()),
                source: e,
            })?;
            crate::sys::linux::bpf_attach_device_program(
                std::os::fd::AsFd::as_fd(&dir),
                std::os::fd::AsFd::as_fd(&prog),
            )
            .map_err(|e| CgroupError::Device {
                what: format!("attach the device program to {}", self.dir.display()),
                source: e,
            })?;
        }
        Ok(())
    }

    fn add(&self, pid: Pid) -> Result<()> {
        if self.skipped {
            return Ok(());
        }
        write(&self.dir, "cgroup.procs", &pid.to_string())
    }

    fn pids(&self) -> Result<Vec<Pid>> {
        if self.skipped {
            return Ok(Vec::new());
        }
        read_pids(&self.dir, "cgroup.procs")
    }

    fn freeze(&self, frozen: bool) -> Result<()> {
        let want = if frozen { "1" } else { "0" };
        write(&self.dir, "cgroup.freeze", want)?;
        let start = Instant::now();
        loop {
            let events = read(&self.dir, "cgroup.events")?;
            if events.lines().any(|l| l == format!("frozen {want}")) {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(10) {
                return Err(CgroupError::Timeout {
                    path: self.dir.clone(),
                    what: if frozen { "freeze" } else { "thaw" },
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn frozen(&self) -> bool {
        read(&self.dir, "cgroup.freeze").is_ok_and(|s| s.trim() == "1")
    }

    fn remove(&self) -> Result<()> {
        if self.skipped {
            return Ok(());
        }
        let mut all = self.made.clone();
        if !all.contains(&self.dir) {
            all.push(self.dir.clone());
        }
        remove_made(&all, std::slice::from_ref(&self.dir))
    }

    fn record(&self) -> CgroupRecord {
        if self.skipped {
            return CgroupRecord::default();
        }
        CgroupRecord {
            driver: "v2".into(),
            paths: [(String::new(), self.dir.clone())].into(),
            created: self.made.clone(),
            oom_base: 0,
        }
    }

    fn clone_target(&self) -> Option<&Path> {
        // Skipped (rootless, not delegated): the init stays where we are.
        (!self.skipped).then_some(self.dir.as_path())
    }

    fn oom_kills(&self) -> u64 {
        read_keyed(&self.dir, "memory.events")
            .get("oom_kill")
            .copied()
            .unwrap_or(0)
    }

    fn stats(&self) -> Stats {
        let d = &self.dir;
        let mut s = Stats::default();
        let cpu = read_keyed(d, "cpu.stat");
        let us = |k: &str| cpu.get(k).copied().unwrap_or(0) * 1000;
        s.cpu.usage.total = us("usage_usec");
        s.cpu.usage.user = us("user_usec");
        s.cpu.usage.kernel = us("system_usec");
        s.cpu.throttling.periods = cpu.get("nr_periods").copied().unwrap_or(0);
        s.cpu.throttling.throttled_periods = cpu.get("nr_throttled").copied().unwrap_or(0);
        s.cpu.throttling.throttled_time = us("throttled_usec");
        let events = read_keyed(d, "memory.events");
        s.memory.usage = MemoryEntry {
            limit: read_u64(d, "memory.max"),
            usage: read_u64(d, "memory.current"),
            max: read_u64(d, "memory.peak"),
            failcnt: events.get("max").copied().unwrap_or(0),
        };
        s.memory.swap = MemoryEntry {
            limit: read_u64(d, "memory.swap.max"),
            usage: read_u64(d, "memory.swap.current"),
            max: read_u64(d, "memory.swap.peak"),
            failcnt: 0,
        };
        s.memory.raw = read_keyed(d, "memory.stat");
        s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
        s.memory.oom_kills = events.get("oom_kill").copied().unwrap_or(0);
        s.pids.current = read_u64(d, "pids.current");
        s.pids.limit = read_u64(d, "pids.max");
        if let Ok(t) = std::fs::read_to_string(d.join("io.stat")) {
            let (bytes, ios) = parse_io_stat_v2(&t);
            s.blkio.io_service_bytes_recursive = bytes;
            s.blkio.io_serviced_recursive = ios;
        }
        for size in super::v1::hugetlb_sizes(d, ".current") {
            let f = |suffix: &str| read_u64(d, &format!("hugetlb.{size}.{suffix}"));
            let failcnt = read_keyed(d, &format!("hugetlb.{size}.events"))
                .get("max")
                .copied()
                .unwrap_or(0);
            s.hugetlb.insert(
                size.clone(),
                Hugetlb {
                    usage: f("current"),
                    max: 0,
                    failcnt,
                },
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_convert_like_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(0), 0);
    }

    #[test]
    fn blkio_weight_converts_to_io_weight() {
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
        assert_eq!(blkio_to_io_weight(500), 4950);
    }

    #[test]
    fn a_controller_the_parent_could_not_enable_is_named() {
        let root = std::env::temp_dir().join(format!("husk-v2-{}-notenabled", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let leaf = root.join("busy/c");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::write(root.join("cgroup.controllers"), "memory pids\n").unwrap();
        std::fs::write(leaf.join("cgroup.controllers"), "memory\n").unwrap();
        let v = V2::new(leaf, root.clone(), None);
        let mut res = LinuxResources::default();
        let mut pids = oci_spec::runtime::LinuxPids::default();
        pids.set_limit(10);
        res.set_pids(Some(pids));
        let e = v.apply(&res).unwrap_err();
        assert!(
            matches!(
                e,
                CgroupError::NotEnabled {
                    controller: "pids",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("busy"), "{e}");
        // A controller the host lacks altogether is Unsupported.
        std::fs::write(root.join("cgroup.controllers"), "memory\n").unwrap();
        let e = v.apply(&res).unwrap_err();
        assert!(matches!(e, CgroupError::Unsupported { .. }), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn swap_is_converted_from_memsw() {
        assert_eq!(swap_max(100, 300), Some("200".into()));
        assert_eq!(swap_max(100, -1), Some("max".into()));
        assert_eq!(swap_max(100, 0), None);
        assert_eq!(swap_max(100, 50), Some("0".into()));
    }
}
