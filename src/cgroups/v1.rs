//! The cgroup v1 driver (also used on hybrid hosts, where the container is
//! placed in the cgroup2 tree as well). One directory per mounted
//! hierarchy; resources go to the hierarchy that owns each controller.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use super::stats::{parse_blkio_v1, read_keyed, read_u64, Hugetlb, MemoryEntry, Stats};
use super::{
    devices, is_permission, mkdir_all, read, read_pids, remove_made, write, CgroupError, Driver,
    Part, Result, Rootless,
};
use crate::store::CgroupRecord;

#[derive(Debug)]
pub struct V1 {
    /// controllers → directory; "" is the cgroup2 directory on hybrid hosts.
    paths: BTreeMap<String, PathBuf>,
    made: Vec<PathBuf>,
    rootless: Option<Rootless>,
    /// Rootless: the hierarchies left out because they are not delegated.
    skipped: BTreeMap<String, PathBuf>,
}

impl V1 {
    pub fn new(paths: BTreeMap<String, PathBuf>, rootless: Option<Rootless>) -> V1 {
        V1 {
            paths,
            made: Vec::new(),
            rootless,
            skipped: BTreeMap::new(),
        }
    }

    pub fn from_record(rec: &CgroupRecord) -> V1 {
        V1 {
            paths: rec.paths.clone(),
            made: rec.created.clone(),
            rootless: None,
            skipped: BTreeMap::new(),
        }
    }

    /// The directory of the hierarchy holding `controller`.
    fn dir(&self, controller: &str) -> Option<&Path> {
        self.paths
            .iter()
            .find(|(k, _)| !k.is_empty() && k.split(',').any(|c| c == controller))
            .map(|(_, v)| v.as_path())
    }

    fn need(&self, controller: &'static str, resource: &'static str) -> Result<&Path> {
        if let Some(d) = self.dir(controller) {
            return Ok(d);
        }
        let skipped = self
            .skipped
            .iter()
            .find(|(k, _)| k.split(',').any(|c| c == controller));
        Err(match skipped {
            Some((_, path)) => CgroupError::NotDelegated {
                resource,
                path: path.clone(),
            },
            None => CgroupError::Unsupported {
                resource,
                controller,
            },
        })
    }

    /// New cpuset cgroups start with empty cpus/mems, in which no task may
    /// run: copy them down from the parent, outermost first.
    fn init_cpuset(&self) -> Result<()> {
        let Some(leaf) = self.dir("cpuset") else {
            return Ok(());
        };
        for d in self.made.iter().filter(|d| leaf.starts_with(d)) {
            let parent = d.parent().expect("a made cgroup dir has a parent");
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if read(d, f)?.trim().is_empty() {
                    write(d, f, read(parent, f)?.trim())?;
                }
            }
        }
        Ok(())
    }
}

impl Driver for V1 {
    fn create(&mut self, part: Part) -> Result<()> {
        let mut skipped = Vec::new();
        // "" (the cgroup2 side of a hybrid host) is the clone target.
        let wanted = |ctrl: &str| match part {
            Part::CloneTarget => ctrl.is_empty(),
            Part::Rest => !ctrl.is_empty(),
            Part::All => true,
        };
        for (ctrl, dir) in self.paths.iter().filter(|(c, _)| wanted(c)) {
            let made_before = self.made.len();
            match mkdir_all(dir, &mut self.made) {
                Ok(()) => {}
                // Rootless without delegation: run without that hierarchy.
                Err(CgroupError::Create { source, .. })
                    if self.rootless.is_some() && is_permission(&source) =>
                {
                    skipped.push(ctrl.clone());
                    continue;
                }
                Err(e) => return Err(e),
            }
            // The cgroup2 side of a hybrid host: the init could not be
            // moved there from the caller's cgroup.
            let own_v2 = self.rootless.as_ref().and_then(|r| r.own_v2.as_deref());
            if let (true, Some(own)) = (ctrl.is_empty(), own_v2) {
                if !super::may_migrate(own, dir) {
                    let new: Vec<PathBuf> = self.made.drain(made_before..).collect();
                    remove_made(&new, std::slice::from_ref(dir))?;
                    skipped.push(ctrl.clone());
                }
            }
        }
        for c in skipped {
            if let Some(dir) = self.paths.remove(&c) {
                self.skipped.insert(c, dir);
            }
        }
        if part == Part::CloneTarget {
            return Ok(());
        }
        let skipped: Vec<(&str, &Path)> = self
            .skipped
            .iter()
            .map(|(c, d)| (c.as_str(), d.as_path()))
            .collect();
        super::note_skipped(&skipped, self.paths.is_empty());
        self.init_cpuset()
    }

    fn apply(&self, res: &LinuxResources) -> Result<()> {
        if let Some(m) = res.memory() {
            let nz = |v: Option<i64>| v.is_some_and(|v| v != 0);
            let wants = nz(m.limit())
                || nz(m.reservation())
                || nz(m.swap())
                || nz(m.kernel_tcp())
                || m.swappiness().is_some_and(|s| s <= 100)
                || m.disable_oom_killer() == Some(true);
            if wants {
                let dir = self.need("memory", "a memory limit")?;
                set_memory_and_swap(dir, m.limit().unwrap_or(0), m.swap().unwrap_or(0))?;
                if let Some(r) = m.reservation().filter(|r| *r != 0) {
                    write(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
                }
                if let Some(k) = m.kernel_tcp().filter(|k| *k != 0) {
                    write(dir, "memory.kmem.tcp.limit_in_bytes", &k.to_string())?;
                }
                if let Some(s) = m.swappiness().filter(|s| *s <= 100) {
                    write(dir, "memory.swappiness", &s.to_string())?;
                }
                if m.disable_oom_killer() == Some(true) {
                    write(dir, "memory.oom_control", "1")?;
                }
            }
        }
        if let Some(c) = res.cpu() {
            if c.shares().is_some_and(|s| s != 0)
                || c.quota().is_some_and(|q| q != 0)
                || c.period().is_some_and(|p| p != 0)
                || c.realtime_runtime().is_some_and(|v| v != 0)
                || c.realtime_period().is_some_and(|v| v != 0)
                || c.idle().is_some()
                || c.burst().is_some()
            {
                let dir = self.need("cpu", "a cpu limit")?;
                if let Some(s) = c.shares().filter(|s| *s != 0) {
                    write(dir, "cpu.shares", &s.to_string())?;
                }
                // The period first: a quota is checked against the current period.
                if let Some(p) = c.period().filter(|p| *p != 0) {
                    write(dir, "cpu.cfs_period_us", &p.to_string())?;
                }
                if let Some(q) = c.quota().filter(|q| *q != 0) {
                    write(dir, "cpu.cfs_quota_us", &q.to_string())?;
                }
                if let Some(b) = c.burst() {
                    write(dir, "cpu.cfs_burst_us", &b.to_string())?;
                }
                if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
                    write(dir, "cpu.rt_period_us", &p.to_string())?;
                }
                if let Some(r) = c.realtime_runtime().filter(|r| *r != 0) {
                    write(dir, "cpu.rt_runtime_us", &r.to_string())?;
                }
                if let Some(i) = c.idle() {
                    write(dir, "cpu.idle", &i.to_string())?;
                }
            }
            if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                write(self.need("cpuset", "cpuset cpus")?, "cpuset.cpus", cpus)?;
            }
            if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                write(self.need("cpuset", "cpuset mems")?, "cpuset.mems", mems)?;
            }
        }
        if let Some(p) = res.pids() {
            let limit = p.limit();
            let dir = self.need("pids", "a pids limit")?;
            write(
                dir,
                "pids.max",
                &if limit > 0 {
                    limit.to_string()
                } else {
                    "max".into()
                },
            )?;
        }
        if let Some(b) = res.block_io() {
            apply_blkio(self, b)?;
        }
        for h in res.hugepage_limits().iter().flatten() {
            let file = format!("hugetlb.{}.limit_in_bytes", h.page_size());
            match self.dir("hugetlb") {
                Some(dir) => write(dir, &file, &h.limit().to_string())?,
                // Hybrid hosts may have hugetlb on the cgroup2 side only.
                None => match self.paths.get("") {
                    Some(dir) if dir.join(format!("hugetlb.{}.max", h.page_size())).exists() => {
                        write(
                            dir,
                            &format!("hugetlb.{}.max", h.page_size()),
                            &h.limit().to_string(),
                        )?
                    }
                    _ => {
                        return Err(CgroupError::Unsupported {
                            resource: "a hugetlb limit",
                            controller: "hugetlb",
                        })
                    }
                },
            }
        }
        if let Some(rules) = res.devices() {
            // Rootless, devices are limited to the nodes husk binds in
            // (writing device rules needs CAP_SYS_ADMIN; runc skips them
            // too); a privileged host always has the devices controller.
            if self.rootless.is_some() {
                log::debug!("rootless: device rules are not enforced");
            } else if let Some(dir) = self.dir("devices") {
                // Each write is one rule: the two files are opened once.
                let mut files: [Option<(PathBuf, fs::File)>; 2] = [None, None];
                for r in devices::rules(rules) {
                    let name = if r.allow {
                        "devices.allow"
                    } else {
                        "devices.deny"
                    };
                    let slot = &mut files[r.allow as usize];
                    if slot.is_none() {
                        let path = dir.join(name);
                        let f =
                            fs::OpenOptions::new()
                                .write(true)
                                .open(&path)
                                .map_err(|source| CgroupError::Write {
                                    path: path.clone(),
                                    value: r.v1_line(),
                                    source,
                                })?;
                        *slot = Some((path, f));
                    }
                    let (path, f) = slot.as_mut().expect("opened above");
                    let line = r.v1_line();
                    f.write_all(line.as_bytes())
                        .map_err(|source| CgroupError::Write {
                            path: path.clone(),
                            value: line,
                            source,
                        })?;
                }
            } else {
                return Err(CgroupError::Unsupported {
                    resource: "device rules",
                    controller: "devices",
                });
            }
        }
        if let Some(n) = res.network() {
            if let Some(id) = n.class_id() {
                write(
                    self.need("net_cls", "a network class id")?,
                    "net_cls.classid",
                    &id.to_string(),
                )?;
            }
            for p in n.priorities().iter().flatten() {
                let line = format!("{} {}", p.name(), p.priority());
                write(
                    self.need("net_prio", "network priorities")?,
                    "net_prio.ifpriomap",
                    &line,
                )?;
            }
        }
        if res.unified().as_ref().is_some_and(|u| !u.is_empty()) {
            return Err(CgroupError::Unsupported {
                resource: "linux.resources.unified",
                controller: "cgroup v2",
            });
        }
        Ok(())
    }

    fn add(&self, pid: Pid) -> Result<()> {
        let p = pid.to_string();
        for dir in self.paths.values() {
            write(dir, "cgroup.procs", &p)?;
        }
        Ok(())
    }

    fn pids(&self) -> Result<Vec<Pid>> {
        let dir = self
            .dir("pids")
            .or_else(|| self.dir("memory"))
            .or_else(|| self.paths.values().next().map(|p| p.as_path()));
        match dir {
            Some(d) => read_pids(d, "cgroup.procs"),
            None => Ok(Vec::new()),
        }
    }

    fn freeze(&self, frozen: bool) -> Result<()> {
        let dir = self.need("freezer", "pause")?;
        let want = if frozen { "FROZEN" } else { "THAWED" };
        let start = Instant::now();
        loop {
            write(dir, "freezer.state", want)?;
            if read(dir, "freezer.state")?.trim() == want {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(10) {
                return Err(CgroupError::Timeout {
                    path: dir.into(),
                    what: if frozen { "freeze" } else { "thaw" },
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn clone_target(&self) -> Option<&Path> {
        self.paths.get("").map(PathBuf::as_path)
    }

    fn v1_dirs(&self) -> Vec<&Path> {
        self.paths
            .iter()
            .filter(|(k, _)| !k.is_empty())
            .map(|(_, v)| v.as_path())
            .collect()
    }

    fn frozen(&self) -> bool {
        self.dir("freezer")
            .and_then(|d| read(d, "freezer.state").ok())
            .is_some_and(|s| s.trim() != "THAWED")
    }

    fn remove(&self) -> Result<()> {
        let leaves: Vec<PathBuf> = self.paths.values().cloned().collect();
        let mut all = self.made.clone();
        for l in &leaves {
            if !all.contains(l) {
                all.push(l.clone());
            }
        }
        remove_made(&all, &leaves)
    }

    fn record(&self) -> CgroupRecord {
        if self.paths.is_empty() && self.made.is_empty() {
            // Rootless and nothing delegated: the container has no cgroup.
            return CgroupRecord::default();
        }
        CgroupRecord {
            driver: "v1".into(),
            paths: self.paths.clone(),
            created: self.made.clone(),
            oom_base: 0,
        }
    }

    fn oom_kills(&self) -> u64 {
        self.dir("memory")
            .and_then(|d| read_keyed(d, "memory.oom_control").get("oom_kill").copied())
            .unwrap_or(0)
    }

    fn stats(&self) -> Stats {
        let mut s = Stats::default();
        if let Some(d) = self.dir("cpuacct") {
            s.cpu.usage.total = read_u64(d, "cpuacct.usage");
            s.cpu.usage.percpu = std::fs::read_to_string(d.join("cpuacct.usage_percpu"))
                .map(|t| {
                    t.split_whitespace()
                        .filter_map(|v| v.parse().ok())
                        .collect()
                })
                .unwrap_or_default();
            // cpuacct.stat counts USER_HZ ticks.
            let ns_per_tick = 1_000_000_000 / clock_ticks();
            let st = read_keyed(d, "cpuacct.stat");
            s.cpu.usage.user = st.get("user").copied().unwrap_or(0) * ns_per_tick;
            s.cpu.usage.kernel = st.get("system").copied().unwrap_or(0) * ns_per_tick;
        }
        if let Some(d) = self.dir("cpu") {
            let st = read_keyed(d, "cpu.stat");
            s.cpu.throttling.periods = st.get("nr_periods").copied().unwrap_or(0);
            s.cpu.throttling.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
            s.cpu.throttling.throttled_time = st.get("throttled_time").copied().unwrap_or(0);
        }
        if let Some(d) = self.dir("memory") {
            let entry = |prefix: &str| MemoryEntry {
                limit: read_u64(d, &format!("{prefix}limit_in_bytes")),
                usage: read_u64(d, &format!("{prefix}usage_in_bytes")),
                max: read_u64(d, &format!("{prefix}max_usage_in_bytes")),
                failcnt: read_u64(d, &format!("{prefix}failcnt")),
            };
            s.memory.usage = entry("memory.");
            s.memory.swap = entry("memory.memsw.");
            s.memory.kernel = entry("memory.kmem.");
            s.memory.kernel_tcp = entry("memory.kmem.tcp.");
            s.memory.raw = read_keyed(d, "memory.stat");
            s.memory.cache = s
                .memory
                .raw
                .get("total_cache")
                .or(s.memory.raw.get("cache"))
                .copied()
                .unwrap_or(0);
            s.memory.oom_kills = self.oom_kills();
        }
        if let Some(d) = self.dir("pids") {
            s.pids.current = read_u64(d, "pids.current");
            s.pids.limit = read_u64(d, "pids.max");
        }
        if let Some(d) = self.dir("blkio") {
            let read = |f: &str| {
                std::fs::read_to_string(d.join(f))
                    .map(|t| parse_blkio_v1(&t))
                    .unwrap_or_default()
            };
            s.blkio.io_service_bytes_recursive = read("blkio.throttle.io_service_bytes_recursive");
            s.blkio.io_serviced_recursive = read("blkio.throttle.io_serviced_recursive");
        }
        if let Some(d) = self.dir("hugetlb") {
            for size in hugetlb_sizes(d, ".usage_in_bytes") {
                let f = |suffix: &str| read_u64(d, &format!("hugetlb.{size}.{suffix}"));
                s.hugetlb.insert(
                    size.clone(),
                    Hugetlb {
                        usage: f("usage_in_bytes"),
                        max: f("max_usage_in_bytes"),
                        failcnt: f("failcnt"),
                    },
                );
            }
        }
        s
    }
}

/// USER_HZ, the unit of cpuacct.stat.
fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

/// Page sizes with hugetlb files ending in `suffix` in `dir` ("2MB", "1GB").
pub(crate) fn hugetlb_sizes(dir: &Path, suffix: &str) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            n.strip_prefix("hugetlb.")?
                .strip_suffix(suffix)
                .map(str::to_string)
        })
        .filter(|s| !s.contains('.'))
        .collect();
    v.sort();
    v
}

/// Memory and memory+swap must be written in an order the kernel accepts:
/// memsw may never be below the memory limit (runc's setMemoryAndSwap).
fn set_memory_and_swap(dir: &Path, limit: i64, swap: i64) -> Result<()> {
    let swap = if limit == -1 && swap == 0 { -1 } else { swap };
    let memsw = "memory.memsw.limit_in_bytes";
    if swap != 0 && !dir.join(memsw).exists() {
        return Err(CgroupError::Unsupported {
            resource: "a swap limit (memory.swap)",
            controller: "memory (swap accounting)",
        });
    }
    if limit != 0 && swap != 0 {
        let cur: i64 = read(dir, "memory.limit_in_bytes")?
            .trim()
            .parse()
            .unwrap_or(i64::MAX);
        if swap == -1 || cur < swap {
            write(dir, memsw, &swap.to_string())?;
            write(dir, "memory.limit_in_bytes", &limit.to_string())?;
        } else {
            write(dir, "memory.limit_in_bytes", &limit.to_string())?;
            write(dir, memsw, &swap.to_string())?;
        }
    } else if limit != 0 {
        write(dir, "memory.limit_in_bytes", &limit.to_string())?;
    } else if swap != 0 {
        write(dir, memsw, &swap.to_string())?;
    }
    Ok(())
}

fn apply_blkio(v: &V1, b: &oci_spec::runtime::LinuxBlockIo) -> Result<()> {
    let wants_weight = b.weight().is_some_and(|w| w != 0)
        || b.leaf_weight().is_some_and(|w| w != 0)
        || b.weight_device().as_ref().is_some_and(|d| !d.is_empty());
    let throttles = [
        (
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ];
    let wants_throttle = throttles
        .iter()
        .any(|(_, l)| l.as_ref().is_some_and(|l| !l.is_empty()));
    if !wants_weight && !wants_throttle {
        return Ok(());
    }
    let dir = v.need("blkio", "a block io setting")?;
    if wants_weight {
        // CFQ's blkio.weight, or BFQ's blkio.bfq.weight on newer kernels.
        let prefix = if dir.join("blkio.weight").exists() {
            "blkio."
        } else if dir.join("blkio.bfq.weight").exists() {
            "blkio.bfq."
        } else {
            return Err(CgroupError::Unsupported {
                resource: "blockIO.weight",
                controller: "blkio weight (CFQ or BFQ)",
            });
        };
        if let Some(w) = b.weight().filter(|w| *w != 0) {
            write(dir, &format!("{prefix}weight"), &w.to_string())?;
        }
        if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
            write(dir, &format!("{prefix}leaf_weight"), &w.to_string())?;
        }
        for d in b.weight_device().iter().flatten() {
            if let Some(w) = d.weight() {
                write(
                    dir,
                    &format!("{prefix}weight_device"),
                    &format!("{}:{} {}", d.major(), d.minor(), w),
                )?;
            }
        }
    }
    for (file, list) in throttles {
        for d in list.iter().flatten() {
            write(
                dir,
                file,
                &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("husk-v1-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn memory_above_current_memsw_writes_memsw_first() {
        let d = tree("memsw");
        fs::write(d.join("memory.limit_in_bytes"), "1000\n").unwrap();
        fs::write(d.join("memory.memsw.limit_in_bytes"), "1000\n").unwrap();
        set_memory_and_swap(&d, 4000, 8000).unwrap();
        assert_eq!(
            fs::read_to_string(d.join("memory.limit_in_bytes")).unwrap(),
            "4000"
        );
        assert_eq!(
            fs::read_to_string(d.join("memory.memsw.limit_in_bytes")).unwrap(),
            "8000"
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn swap_without_swap_accounting_is_a_clear_error() {
        let d = tree("noswap");
        fs::write(d.join("memory.limit_in_bytes"), "1000\n").unwrap();
        let e = set_memory_and_swap(&d, 4000, 8000).unwrap_err();
        assert!(e.to_string().contains("swap"), "{e}");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_hierarchy_rootless_could_not_use_is_named_as_not_delegated() {
        let mut v = V1::new(BTreeMap::new(), Some(Rootless::default()));
        v.skipped
            .insert("pids".into(), "/sys/fs/cgroup/pids/u/c".into());
        let mut res = LinuxResources::default();
        let mut pids = oci_spec::runtime::LinuxPids::default();
        pids.set_limit(10);
        res.set_pids(Some(pids));
        let e = v.apply(&res).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "a pids limit was requested but husk runs rootless and cannot use cgroup \"/sys/fs/cgroup/pids/u/c\""
            ),
            "{e}"
        );
        // Nothing usable: the record names no cgroup at all.
        assert_eq!(v.record(), CgroupRecord::default());
        // Device rules are not enforced rootless: no error.
        let mut res = LinuxResources::default();
        res.set_devices(Some(vec![Default::default()]));
        v.apply(&res).unwrap();
    }

    #[test]
    fn missing_controller_is_named() {
        let v = V1::new(BTreeMap::from([("memory".into(), "/x".into())]), None);
        let mut res = LinuxResources::default();
        let mut pids = oci_spec::runtime::LinuxPids::default();
        pids.set_limit(10);
        res.set_pids(Some(pids));
        let e = v.apply(&res).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a pids limit was requested but the pids cgroup controller is not available on this host"
        );
    }

    #[test]
    fn zero_values_change_nothing() {
        // containerd's shim sends zeros for "unset": nothing may be written.
        let v = V1::new(BTreeMap::new(), None);
        let res: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":0,"reservation":0,"swap":0,"kernel":0},"cpu":{"shares":0,"quota":0,"period":0},"blockIO":{"weight":0}}"#,
        )
        .unwrap();
        v.apply(&res).unwrap();
    }
}
