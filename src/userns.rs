//! User namespaces and running without root: whether husk itself runs in
//! a user namespace, the caller's subordinate id ranges (/etc/subuid,
//! /etc/subgid), and the id maps of a container's new user namespace.
//!
//! The kernel lets an unprivileged process write one line of a child user
//! namespace's uid_map: its own euid (and, after "deny" in
//! /proc/<pid>/setgroups, one line of gid_map: its own egid). Anything more
//! goes through the setuid helpers newuidmap and newgidmap (Debian's uidmap
//! package), which check the ranges against /etc/subuid and /etc/subgid
//! (user_namespaces(7), newuidmap(1)).
//!
//! Called from: container::create (the maps), spec (`husk spec --rootless`),
//! cgroups and the init (rootless behaviour), store (the state root).

use std::path::{Path, PathBuf};
use std::process::Command;

use nix::unistd::{Gid, Pid, Uid};
use oci_spec::runtime::LinuxIdMapping;

#[derive(Debug, thiserror::Error)]
pub enum UserNsError {
    #[error("failed to write {text:?} to /proc/{pid}/{file}")]
    WriteMap {
        pid: i32,
        file: &'static str,
        text: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{kind} maps more than the caller's own id ({maps}): without root that needs {helper} (Debian package uidmap), which is not installed")]
    HelperMissing {
        kind: &'static str,
        helper: &'static str,
        maps: String,
    },
    #[error("cannot run {path:?}")]
    SpawnHelper {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{helper} {pid} {maps} failed ({status}): {stderr}")]
    Helper {
        helper: &'static str,
        pid: i32,
        maps: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

pub type Result<T, E = UserNsError> = std::result::Result<T, E>;

/// Does this uid_map text describe the initial user namespace (everything
/// mapped onto itself)?
pub fn is_initial_map(uid_map: &str) -> bool {
    let f: Vec<&str> = uid_map.split_whitespace().collect();
    f == ["0", "0", "4294967295"]
}

/// Is the runtime in a user namespace other than the initial one (as
/// under rootless podman, where husk runs as uid 0 of the user's namespace)?
/// Read once per invocation: a child that has since joined another user
/// namespace still gets the runtime's answer, which is what it asks for.
pub fn running_in_user_namespace() -> bool {
    static IN_USERNS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *IN_USERNS.get_or_init(|| {
        crate::sys::read_proc_text(std::path::Path::new("/proc/self/uid_map"), 4096)
            .is_ok_and(|m| !is_initial_map(&m))
    })
}

/// Rootless: not the host's root, or root only of a user namespace. Such
/// a runtime cannot count on cgroups (they are the host's unless delegated)
/// or on mknod (runc's `rootlessEUID || RunningInUserNS`).
pub fn rootless() -> bool {
    !nix::unistd::geteuid().is_root() || running_in_user_namespace()
}

/// One subordinate id range of /etc/subuid or /etc/subgid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubIdRange {
    pub start: u32,
    pub count: u32,
}

/// The ranges of `user` (by name, or by numeric uid) in subuid/subgid text
/// (`name:start:count` per line).
pub fn parse_subids(text: &str, user: Option<&str>, uid: u32) -> Vec<SubIdRange> {
    let uid = uid.to_string();
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().splitn(3, ':');
            let (who, start, count) = (f.next()?, f.next()?, f.next()?);
            if who != uid && Some(who) != user {
                return None;
            }
            let range = SubIdRange {
                start: start.trim().parse().ok()?,
                count: count.trim().parse().ok()?,
            };
            (range.count > 0).then_some(range)
        })
        .collect()
}

/// The caller's ranges in `file` (/etc/subuid or /etc/subgid), looked up by
/// the name of uid `uid` in /etc/passwd and by the number itself.
pub fn subordinate_ranges(file: &Path, uid: u32) -> Vec<SubIdRange> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    let name = nix::unistd::User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name);
    parse_subids(&text, name.as_deref(), uid)
}

/// Where the helper `name` is installed: $PATH, then the usual directories
/// (a runtime started by an engine may have a short PATH).
pub fn find_helper(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .filter(|d| !d.is_empty())
        .chain(["/usr/bin", "/bin", "/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}

/// One "container host size" mapping.
pub fn mapping(container: u32, host: u32, size: u32) -> LinuxIdMapping {
    oci_spec::runtime::LinuxIdMappingBuilder::default()
        .container_id(container)
        .host_id(host)
        .size(size)
        .build()
        .expect("every field is set")
}

/// The maps `husk spec --rootless` writes for one kind of id: the caller's
/// own id as 0, then (when the helpers exist) its subordinate ranges from 1
/// on, back to back.
pub fn rootless_mappings(own: u32, ranges: &[SubIdRange]) -> Vec<LinuxIdMapping> {
    let mut out = vec![mapping(0, own, 1)];
    let mut next = 1u32;
    for r in ranges {
        let Some(end) = next.checked_add(r.count) else {
            break;
        };
        out.push(mapping(next, r.start, r.count));
        next = end;
    }
    out
}

/// Which id file, its helper and its words for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Uid,
    Gid,
}

impl Kind {
    fn file(self) -> &'static str {
        match self {
            Kind::Uid => "uid_map",
            Kind::Gid => "gid_map",
        }
    }
    fn helper(self) -> &'static str {
        match self {
            Kind::Uid => "newuidmap",
            Kind::Gid => "newgidmap",
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::Uid => "linux.uidMappings",
            Kind::Gid => "linux.gidMappings",
        }
    }
}

/// How one map gets written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapWriter {
    /// By this process, into /proc/<pid>/{uid,gid}_map.
    Direct,
    /// By newuidmap/newgidmap.
    Helper,
}

/// Root (of whatever user namespace husk runs in: it holds CAP_SETUID and
/// CAP_SETGID there) writes any map itself; anyone else only the one line
/// that maps its own id (user_namespaces(7), "Defining user and group ID
/// mappings").
pub fn map_writer(privileged: bool, own: u32, maps: &[LinuxIdMapping]) -> MapWriter {
    let own_only = matches!(maps, [m] if m.host_id() == own && m.size() == 1);
    if privileged || own_only {
        MapWriter::Direct
    } else {
        MapWriter::Helper
    }
}

/// "container host size" lines, as the kernel reads them.
pub fn render(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Writes the uid and gid maps of the new user namespace of `pid`.
/// Without privilege, a gid map written directly needs setgroups denied
/// first; the init then must not call setgroups (it reads
/// /proc/self/setgroups). newgidmap decides that itself: "allow" when a
/// subordinate range is mapped.
///
/// Runs in: the runtime, while the init is still dumpable (its /proc files
/// are the caller's only then, and newuidmap checks their owner too).
pub fn write_id_maps(pid: Pid, uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<()> {
    let privileged = nix::unistd::geteuid().is_root();
    let own_uid = nix::unistd::geteuid().as_raw();
    let own_gid = Gid::effective().as_raw();
    for (kind, maps, own) in [(Kind::Uid, uids, own_uid), (Kind::Gid, gids, own_gid)] {
        match map_writer(privileged, own, maps) {
            MapWriter::Direct => {
                if kind == Kind::Gid && !privileged {
                    write_proc(pid, "setgroups", "deny")?;
                }
                write_proc(pid, kind.file(), &render(maps))?;
            }
            MapWriter::Helper => run_helper(kind, pid, maps)?,
        }
    }
    Ok(())
}

fn write_proc(pid: Pid, file: &'static str, text: &str) -> Result<()> {
    std::fs::write(format!("/proc/{pid}/{file}"), text).map_err(|source| UserNsError::WriteMap {
        pid: pid.as_raw(),
        file,
        text: text.trim().replace('\n', ", "),
        source,
    })
}

fn run_helper(kind: Kind, pid: Pid, maps: &[LinuxIdMapping]) -> Result<()> {
    let words: Vec<String> = maps
        .iter()
        .flat_map(|m| [m.container_id(), m.host_id(), m.size()])
        .map(|n| n.to_string())
        .collect();
    let Some(path) = find_helper(kind.helper()) else {
        return Err(UserNsError::HelperMissing {
            kind: kind.name(),
            helper: kind.helper(),
            maps: render(maps).trim().replace('\n', ", "),
        });
    };
    let out = Command::new(&path)
        .arg(pid.to_string())
        .args(&words)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| UserNsError::SpawnHelper { path, source })?;
    if out.status.success() {
        return Ok(());
    }
    Err(UserNsError::Helper {
        helper: kind.helper(),
        pid: pid.as_raw(),
        maps: words.join(" "),
        status: out.status,
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// Does /proc/<..>/setgroups text allow setgroups(2)? (It is absent on
/// kernels before 3.19, where setgroups was always allowed to the
/// namespace's root.)
pub fn setgroups_text_allows(text: Option<&str>) -> bool {
    text.is_none_or(|t| t.trim() != "deny")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(c: u32, h: u32, s: u32) -> LinuxIdMapping {
        mapping(c, h, s)
    }

    #[test]
    fn the_initial_namespace_maps_everything_onto_itself() {
        assert!(is_initial_map("         0          0 4294967295\n"));
        assert!(!is_initial_map("         0       1000          1\n"));
        assert!(!is_initial_map("0 1000 1\n1 100000 65536\n"));
    }

    #[test]
    fn subids_match_by_name_or_number() {
        let text = "alice:100000:65536\nbob:165536:65536\n1002:231072:1000\nalice:300000:10\nbroken\nzero:1:0\n";
        assert_eq!(
            parse_subids(text, Some("alice"), 1001),
            [
                SubIdRange {
                    start: 100000,
                    count: 65536
                },
                SubIdRange {
                    start: 300000,
                    count: 10
                }
            ]
        );
        assert_eq!(
            parse_subids(text, Some("carol"), 1002),
            [SubIdRange {
                start: 231072,
                count: 1000
            }]
        );
        assert!(parse_subids(text, None, 7).is_empty());
        assert!(parse_subids(text, Some("zero"), 7).is_empty());
    }

    #[test]
    fn rootless_maps_put_the_caller_at_zero_and_ranges_after_it() {
        let maps = rootless_mappings(
            1001,
            &[
                SubIdRange {
                    start: 100000,
                    count: 65536,
                },
                SubIdRange {
                    start: 300000,
                    count: 10,
                },
            ],
        );
        assert_eq!(render(&maps), "0 1001 1\n1 100000 65536\n65537 300000 10\n");
        assert_eq!(render(&rootless_mappings(1001, &[])), "0 1001 1\n");
    }

    #[test]
    fn only_the_own_single_id_is_written_without_a_helper() {
        assert_eq!(map_writer(false, 1001, &[m(0, 1001, 1)]), MapWriter::Direct);
        assert_eq!(map_writer(false, 1001, &[m(0, 1002, 1)]), MapWriter::Helper);
        assert_eq!(map_writer(false, 1001, &[m(0, 1001, 2)]), MapWriter::Helper);
        assert_eq!(
            map_writer(false, 1001, &[m(0, 1001, 1), m(1, 100000, 65536)]),
            MapWriter::Helper
        );
        assert_eq!(
            map_writer(true, 0, &[m(0, 100000, 65536)]),
            MapWriter::Direct
        );
    }

    #[test]
    fn setgroups_is_allowed_unless_denied() {
        assert!(setgroups_text_allows(Some("allow\n")));
        assert!(!setgroups_text_allows(Some("deny\n")));
        assert!(setgroups_text_allows(None));
    }

    #[test]
    fn a_missing_helper_is_named_with_the_maps() {
        let e = UserNsError::HelperMissing {
            kind: Kind::Uid.name(),
            helper: Kind::Uid.helper(),
            maps: "0 1001 1, 1 100000 65536".into(),
        };
        assert_eq!(
            e.to_string(),
            "linux.uidMappings maps more than the caller's own id (0 1001 1, 1 100000 65536): without root that needs newuidmap (Debian package uidmap), which is not installed"
        );
    }
}
