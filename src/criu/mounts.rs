//! What CRIU must be told about a container's process: the mounts whose
//! source it cannot find inside the container (external, with where each
//! comes from at restore), and the stdio opened outside it.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One line of /proc/<pid>/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub id: u32,
    /// "major:minor" of the filesystem.
    pub dev: String,
    /// The path within the filesystem that is mounted (field 4).
    pub root: String,
    /// Where, relative to the process's root (field 5).
    pub mountpoint: String,
    pub fstype: String,
}

/// Parses mountinfo text (octal escapes left as they are: the paths are
/// compared with each other, not opened).
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            if l.len() < 5 {
                return None;
            }
            Some(MountEntry {
                id: l[0].parse().ok()?,
                dev: l[2].to_string(),
                root: l[3].to_string(),
                mountpoint: l[4].to_string(),
                fstype: right.split(' ').next()?.to_string(),
            })
        })
        .collect()
}

/// Is `inner` at or below `outer` (whole path components)?
fn is_within(inner: &str, outer: &str) -> bool {
    outer == "/"
        || inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The mounts CRIU cannot rebuild from the container's own mount tree: bind
/// mounts whose source is reachable through no other mount of the same
/// filesystem there (host directories, the container's cgroup directory,
/// host device nodes). CRIU refuses to dump those unless named external.
/// A mount of a filesystem's root (proc, a tmpfs, sysfs…) CRIU makes anew,
/// and the root mount is the `--root` it is given.
pub fn external_mounts(mounts: &[MountEntry]) -> Vec<&MountEntry> {
    mounts
        .iter()
        .filter(|m| m.mountpoint != "/" && m.root != "/")
        .filter(|m| {
            !mounts
                .iter()
                .any(|o| o.id != m.id && o.dev == m.dev && is_within(&m.root, &o.root))
        })
        .collect()
}

/// Where the source of an external mount comes from at restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum MountSource {
    /// A bind mount of the config: its source (the restore's config wins).
    Bind { source: PathBuf },
    /// The container's cgroup directory: `name` is the v1 hierarchy's
    /// directory under the cgroup mount ("memory", "cpu,cpuacct"), "" on v2.
    Cgroup { name: String },
    /// The same host path as the destination (a host device node).
    Host,
    /// A masked path over the host's null device.
    Null,
}

/// An external mount of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalMount {
    /// The mount point in the container: CRIU's key for it.
    pub key: String,
    #[serde(flatten)]
    pub source: MountSource,
}

impl ExternalMount {
    /// `--external` for the dump: the key names itself.
    pub fn dump_arg(&self) -> String {
        format!("mnt[{}]:{}", self.key, self.key)
    }

    /// `--external` for the restore: the key and what to bind there.
    pub fn restore_arg(source: &Path, key: &str) -> String {
        format!("mnt[{key}]:{}", source.display())
    }
}

/// One of the init's stdio fds as the dump saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StdioFd {
    pub fd: i32,
    /// The target of /proc/<pid>/fd/N ("pipe:[123]", "/dev/null").
    pub link: String,
    /// CRIU's name for it when the restore must hand it over
    /// (`--inherit-fd`): "pipe:[123]", or "file[mnt_id:inode]" for a file
    /// opened outside the container's mounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl StdioFd {
    /// `--external` needed at dump: a file from outside the container.
    pub fn dump_external(&self) -> Option<&str> {
        self.key.as_deref().filter(|k| k.starts_with("file["))
    }
}

/// What the dump should know about fd `fd` of a process, from its link,
/// its mount id (fdinfo) and inode, given the ids of the process's mounts.
pub fn classify_stdio(
    fd: i32,
    link: &str,
    mnt_id: Option<u32>,
    inode: Option<u64>,
    mount_ids: &BTreeSet<u32>,
) -> StdioFd {
    let key = if link.starts_with("pipe:[") {
        Some(link.to_string())
    } else if link.starts_with('/') {
        match (mnt_id, inode) {
            (Some(m), Some(i)) if !mount_ids.contains(&m) => Some(format!("file[{m:x}:{i:x}]")),
            _ => None,
        }
    } else {
        None
    };
    StdioFd {
        fd,
        link: link.to_string(),
        key,
    }
}

/// Reads fds 0-2 of `pid`.
pub fn stdio_of(pid: i32, mounts: &[MountEntry]) -> Vec<StdioFd> {
    let ids: BTreeSet<u32> = mounts.iter().map(|m| m.id).collect();
    (0..3)
        .filter_map(|fd| {
            let path = format!("/proc/{pid}/fd/{fd}");
            let link = fs::read_link(&path).ok()?.to_string_lossy().into_owned();
            let mnt_id = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find_map(|l| l.strip_prefix("mnt_id:"))
                        .and_then(|v| v.trim().parse().ok())
                });
            let inode = fs::metadata(&path).ok().map(|m| m.ino());
            Some(classify_stdio(fd, &link, mnt_id, inode, &ids))
        })
        .collect()
}

/// Where the source of external mount `m` is found at restore. The
/// container's cgroup directory (v2: /sys/fs/cgroup; v1: one directory per
/// hierarchy below it) is the new container's; a bind mount of the config
/// is rebound from the restore's config; a bind of the host's null device
/// over a masked file is the null device again; anything else (a host
/// device node) is the same host path.
pub fn mount_source(m: &MountEntry, binds: &[(String, PathBuf)]) -> MountSource {
    let cgroup_fs = m.fstype == "cgroup" || m.fstype == "cgroup2";
    if cgroup_fs && m.mountpoint == "/sys/fs/cgroup" {
        return MountSource::Cgroup {
            name: String::new(),
        };
    }
    if let Some(name) = m.mountpoint.strip_prefix("/sys/fs/cgroup/") {
        if cgroup_fs {
            return MountSource::Cgroup { name: name.into() };
        }
    }
    if let Some((_, source)) = binds.iter().find(|(dest, _)| *dest == m.mountpoint) {
        return MountSource::Bind {
            source: source.clone(),
        };
    }
    if m.fstype == "devtmpfs" && m.root == "/null" {
        return MountSource::Null;
    }
    MountSource::Host
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The container's mountinfo from the pure v2 lane, as the dump saw it.
    const MOUNTINFO: &str = "\
37 28 0:19 /tmp/b/rootfs / rw,relatime master:1 - tmpfs newroot rw,mode=755,inode64
38 37 0:26 / /proc rw,relatime - proc proc rw
39 37 0:27 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64
40 39 0:28 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666
43 37 0:30 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
44 43 0:24 /system.slice/ct1 /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime master:4 - cgroup2 cgroup2 rw,nsdelegate
45 38 0:31 / /proc/acpi ro,relatime - tmpfs tmpfs ro,inode64
46 38 0:27 /null /proc/kcore rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64
50 38 0:26 /bus /proc/bus ro,relatime - proc proc rw
55 37 0:19 /data /data rw,relatime - tmpfs newroot rw
56 37 0:19 /tmp/b/rootfs/etc /etc2 rw,relatime - tmpfs newroot rw
57 39 0:5 /fuse /dev/fuse rw - devtmpfs udev rw
";

    #[test]
    fn external_mounts_are_binds_of_what_the_container_cannot_reach() {
        let mounts = parse_mountinfo(MOUNTINFO);
        let ext: Vec<&str> = external_mounts(&mounts)
            .iter()
            .map(|m| m.mountpoint.as_str())
            .collect();
        // The cgroup directory, a host directory, a host device; not the
        // masked /proc/kcore (a file of the container's /dev), not
        // /proc/bus (a part of its /proc), not /etc2 (inside the rootfs).
        assert_eq!(ext, ["/sys/fs/cgroup", "/data", "/dev/fuse"]);
    }

    #[test]
    fn within_compares_whole_components() {
        assert!(is_within("/a/b", "/a"));
        assert!(is_within("/a", "/a"));
        assert!(is_within("/anything", "/"));
        assert!(!is_within("/ab", "/a"));
    }

    #[test]
    fn stdio_from_outside_the_container_is_external_and_pipes_are_inherited() {
        let ids: BTreeSet<u32> = [37, 38, 39].into();
        let null = classify_stdio(0, "/dev/null", Some(24), Some(4), &ids);
        assert_eq!(null.key.as_deref(), Some("file[18:4]"));
        assert_eq!(null.dump_external(), Some("file[18:4]"));
        let pipe = classify_stdio(1, "pipe:[305]", Some(14), Some(305), &ids);
        assert_eq!(pipe.key.as_deref(), Some("pipe:[305]"));
        assert_eq!(pipe.dump_external(), None);
        let inside = classify_stdio(2, "/dev/null", Some(39), Some(7), &ids);
        assert_eq!(inside.key, None);
    }

    #[test]
    fn mount_sources_name_the_cgroup_the_bind_the_null_device_or_the_host() {
        let mounts = parse_mountinfo(MOUNTINFO);
        let binds = vec![("/data".to_string(), PathBuf::from("/srv/data"))];
        let sources: Vec<MountSource> = external_mounts(&mounts)
            .into_iter()
            .map(|m| mount_source(m, &binds))
            .collect();
        assert_eq!(
            sources,
            [
                MountSource::Cgroup { name: "".into() },
                MountSource::Bind {
                    source: "/srv/data".into()
                },
                MountSource::Host,
            ]
        );
        let v1 = parse_mountinfo(
            "60 59 0:40 /user.slice/c /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n\
             61 30 0:5 /null /proc/kcore rw - devtmpfs udev rw\n",
        );
        assert_eq!(
            mount_source(&v1[0], &[]),
            MountSource::Cgroup {
                name: "cpu,cpuacct".into()
            }
        );
        assert_eq!(mount_source(&v1[1], &[]), MountSource::Null);
    }
}
