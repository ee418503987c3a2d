//! `husk spec`: the default config.json, runc's with husk's name: a
//! busybox-friendly `sh` in all the usual namespaces, read-only root,
//! three capabilities, masked and read-only /proc paths; and with
//! `--rootless` the same for a caller without root.

use serde_json::{json, Value};

use crate::userns::{self, SubIdRange};

/// The default config (terminal on, like runc's; `husk run` relays it).
pub fn default_config() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "husk",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// Whom a rootless config maps, as found on this system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootlessIds {
    pub uid: u32,
    pub gid: u32,
    /// Subordinate ranges mapped after the caller's own id: empty unless
    /// newuidmap and newgidmap are installed to write them.
    pub uid_ranges: Vec<SubIdRange>,
    pub gid_ranges: Vec<SubIdRange>,
}

impl RootlessIds {
    /// The caller's effective ids and, with the helpers installed, its
    /// ranges in /etc/subuid and /etc/subgid (both keyed by user).
    pub fn of_caller() -> RootlessIds {
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        let helpers = userns::find_helper("newuidmap").is_some()
            && userns::find_helper("newgidmap").is_some();
        let ranges = |file: &str| {
            if helpers {
                userns::subordinate_ranges(std::path::Path::new(file), uid)
            } else {
                Vec::new()
            }
        };
        RootlessIds {
            uid,
            gid,
            uid_ranges: ranges("/etc/subuid"),
            gid_ranges: ranges("/etc/subgid"),
        }
    }
}

/// The default config changed for a caller without root, after runc's
/// `specconv.ToRootless` and crun's rootless spec:
/// - a user namespace mapping the caller's uid and gid to 0 (and its
///   subordinate ranges from 1 on, which husk writes with newuidmap and
///   newgidmap);
/// - the network namespace stays (runc drops it to share the host's; a
///   new one has only lo, and being owned by the user namespace it lets
///   the container mount a fresh sysfs, which shows only its own devices:
///   crun keeps both too; husk binds the host's /sys where the kernel
///   refuses a fresh one);
/// - no linux.resources: a user's cgroups are not writable unless
///   delegated, and device rules cannot be enforced without privilege
///   (the container gets binds of the host's standard nodes);
/// - no uid=/gid= mount option naming an id the namespace does not map
///   (devpts gid=5 with a single gid).
pub fn rootless_config(ids: &RootlessIds) -> Value {
    let mut c = default_config();
    let uids = userns::rootless_mappings(ids.uid, &ids.uid_ranges);
    let gids = userns::rootless_mappings(ids.gid, &ids.gid_ranges);
    let mapped = |maps: &[oci_spec::runtime::LinuxIdMapping], id: &str| {
        id.parse::<u64>().is_ok_and(|id| {
            maps.iter().any(|m| {
                let start = u64::from(m.container_id());
                (start..start + u64::from(m.size())).contains(&id)
            })
        })
    };
    if let Some(mounts) = c["mounts"].as_array_mut() {
        for m in mounts {
            if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|o| {
                    let o = o.as_str().unwrap_or_default();
                    match (o.strip_prefix("uid="), o.strip_prefix("gid=")) {
                        (Some(id), _) => mapped(&uids, id),
                        (_, Some(id)) => mapped(&gids, id),
                        _ => true,
                    }
                });
            }
        }
    }
    let linux = &mut c["linux"];
    if let Some(obj) = linux.as_object_mut() {
        obj.remove("resources");
    }
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        ns.push(json!({"type": "user"}));
    }
    linux["uidMappings"] = serde_json::to_value(&uids).unwrap_or_default();
    linux["gidMappings"] = serde_json::to_value(&gids).unwrap_or_default();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(v: &Value) -> oci_spec::runtime::Spec {
        let spec = crate::bundle::parse(v.to_string().as_bytes()).unwrap();
        crate::bundle::validate(&spec).unwrap();
        spec
    }

    #[test]
    fn rootless_config_maps_the_caller_alone_without_ranges() {
        let c = rootless_config(&RootlessIds {
            uid: 1001,
            gid: 1002,
            ..Default::default()
        });
        valid(&c);
        assert_eq!(
            c["linux"]["uidMappings"],
            json!([{"containerID": 0, "hostID": 1001, "size": 1}])
        );
        assert_eq!(
            c["linux"]["gidMappings"],
            json!([{"containerID": 0, "hostID": 1002, "size": 1}])
        );
        assert!(c["linux"].get("resources").is_none());
        let ns: Vec<&str> = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert!(ns.contains(&"user") && ns.contains(&"network"), "{ns:?}");
        let devpts = c["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/dev/pts")
            .unwrap();
        assert!(
            !devpts["options"]
                .as_array()
                .unwrap()
                .contains(&json!("gid=5")),
            "{devpts}"
        );
        assert_eq!(c["process"]["terminal"], true);
    }

    #[test]
    fn rootless_config_maps_subordinate_ranges_after_the_caller() {
        let c = rootless_config(&RootlessIds {
            uid: 1001,
            gid: 1001,
            uid_ranges: vec![SubIdRange {
                start: 100000,
                count: 65536,
            }],
            gid_ranges: vec![SubIdRange {
                start: 100000,
                count: 65536,
            }],
        });
        valid(&c);
        assert_eq!(
            c["linux"]["uidMappings"],
            json!([
                {"containerID": 0, "hostID": 1001, "size": 1},
                {"containerID": 1, "hostID": 100000, "size": 65536}
            ])
        );
        // gid 5 is mapped now: devpts keeps it.
        let devpts = c["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/dev/pts")
            .unwrap();
        assert!(devpts["options"]
            .as_array()
            .unwrap()
            .contains(&json!("gid=5")));
    }

    #[test]
    fn default_config_is_valid() {
        let spec = crate::bundle::parse(default_config().to_string().as_bytes()).unwrap();
        crate::bundle::validate(&spec).unwrap();
    }
}
