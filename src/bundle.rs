//! Loads a bundle (a directory with config.json and a rootfs) and validates
//! the config before anything is created, so that a bad config fails with a
//! message that names the field and its value and leaves nothing behind.
//!
//! Called from: container::create (and exec, for the stored config copy).

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, LinuxSeccompAction, Spec};

use crate::process::namespaces;

/// The runtime-spec versions husk implements: 1.0.0 up to this one.
pub const OCI_VERSION_MAX: &str = "1.2.1";
pub const OCI_VERSION_MIN: &str = "1.0.0";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle {path:?} does not exist or is not a directory")]
    Missing { path: PathBuf },
    #[error("cannot read {path:?}")]
    ReadConfig {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("invalid {path:?}: {msg}")]
    ParseConfig { path: PathBuf, msg: String },
    #[error(
        "unsupported ociVersion {found:?} in config.json: husk supports {OCI_VERSION_MIN} to {OCI_VERSION_MAX}"
    )]
    Version { found: String },
    #[error("invalid config.json: {field} {value:?}: {why}")]
    Invalid {
        field: String,
        value: String,
        why: String,
    },
    #[error("invalid config.json: {field}: {why}")]
    MissingField {
        field: &'static str,
        why: &'static str,
    },
}

pub type Result<T, E = BundleError> = std::result::Result<T, E>;

/// A loaded, validated bundle.
#[derive(Debug)]
pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// config.json exactly as read (copied into the state dir).
    pub config_bytes: Vec<u8>,
    pub spec: Spec,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
}

impl Bundle {
    /// Reads `<dir>/config.json`, parses and validates it, resolves the rootfs.
    pub fn load(dir: &Path) -> Result<Bundle> {
        let dir = absolute(dir).ok_or_else(|| BundleError::Missing { path: dir.into() })?;
        if !dir.is_dir() {
            return Err(BundleError::Missing { path: dir });
        }
        let path = dir.join("config.json");
        let config_bytes = fs::read(&path).map_err(|source| BundleError::ReadConfig {
            path: path.clone(),
            source,
        })?;
        let spec = parse(&config_bytes).map_err(|msg| BundleError::ParseConfig { path, msg })?;
        validate(&spec)?;
        let root = spec.root().as_ref().expect("validate checked root");
        let rootfs = dir.join(root.path());
        if !rootfs.is_dir() {
            return Err(BundleError::Invalid {
                field: "root.path".into(),
                value: root.path().display().to_string(),
                why: format!(
                    "rootfs {} does not exist or is not a directory",
                    rootfs.display()
                ),
            });
        }
        Ok(Bundle {
            dir,
            config_bytes,
            spec,
            rootfs,
        })
    }
}

/// Parses config.json text; the error names the JSON path of the bad field.
pub fn parse(bytes: &[u8]) -> std::result::Result<Spec, String> {
    from_json(bytes)
}

/// Deserializes JSON text. The error begins with the JSON path of the value
/// that failed ("process.user.uid: invalid type: ..."), found by reading the
/// text again up to where serde_json stopped: a path-tracking deserializer
/// would double the code serde generates for the whole Spec.
pub fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| {
        // serde lists every variant on an unknown enum value: keep the first clause.
        let msg = e.to_string();
        let msg = msg.split(", expected one of").next().unwrap_or(&msg);
        match error_offset(bytes, e.line(), e.column()).map(|end| path_at(bytes, end)) {
            Some(path) if !path.is_empty() => format!("{path}: {msg}"),
            _ => msg.to_string(),
        }
    })
}

/// The byte offset that serde_json's 1-based line and its column (the bytes
/// read on that line) point to; None when the error has no position.
fn error_offset(text: &[u8], line: usize, column: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let start = match line {
        1 => 0,
        _ => {
            text.iter()
                .enumerate()
                .filter(|&(_, &b)| b == b'\n')
                .nth(line - 2)?
                .0
                + 1
        }
    };
    Some((start + column).min(text.len()))
}

/// The JSON path ("mounts[2].type") of the value being read when the first
/// `end` bytes of `text` have been read. serde_json reports an error just
/// past the value that failed, or past the closing bracket of a struct that
/// lacks a field, which names the struct. A check that a Deserialize impl
/// makes itself (a capability name) is reported after the whitespace that
/// follows the value, and after the closing bracket when the value is the
/// last one: then the path names the array or object that holds it.
fn path_at(text: &[u8], end: usize) -> String {
    enum Frame {
        Object(Option<String>),
        Array(usize),
    }
    let mut stack = Vec::new();
    let mut want_key = false;
    let mut i = 0;
    while i < end {
        match text[i] {
            b'{' => {
                stack.push(Frame::Object(None));
                want_key = true;
            }
            b'[' => stack.push(Frame::Array(0)),
            b'}' | b']' => {
                stack.pop();
                want_key = false;
            }
            b':' => want_key = false,
            b',' => match stack.last_mut() {
                Some(Frame::Array(n)) => *n += 1,
                Some(Frame::Object(key)) => {
                    *key = None;
                    want_key = true;
                }
                None => {}
            },
            b'"' => {
                let start = i + 1;
                i = start;
                while i < end && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
                if let (true, Some(Frame::Object(key))) = (want_key, stack.last_mut()) {
                    let raw = &text[start..i.min(end)];
                    *key = Some(String::from_utf8_lossy(raw).into_owned());
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for frame in &stack {
        match frame {
            Frame::Object(Some(key)) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Frame::Object(None) => break,
            Frame::Array(n) => path.push_str(&format!("[{n}]")),
        }
    }
    path
}

/// Makes `p` absolute against the current directory and removes `.` and
/// `..` lexically (Go's filepath.Abs, which runc uses), without resolving symlinks.
pub fn absolute(p: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(p)
    };
    let mut out = PathBuf::from("/");
    for c in full.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    Some(out)
}

fn invalid(field: impl Into<String>, value: impl ToString, why: impl Into<String>) -> BundleError {
    BundleError::Invalid {
        field: field.into(),
        value: value.to_string(),
        why: why.into(),
    }
}

/// Is `v` a runtime-spec version husk implements (1.0.0 ≤ v ≤ 1.2.x, any
/// pre-release suffix such as "-dev" or "-rc.1")?
pub fn version_supported(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    let n: Vec<u64> = parts
        .iter()
        .map(|p| p.parse().unwrap_or(u64::MAX))
        .collect();
    n[0] == 1 && n[1] <= 2
}

/// Checks what serde cannot: required fields, absolute paths, consistent
/// namespaces, limits. Each error names the field and the value.
pub fn validate(spec: &Spec) -> Result<()> {
    if !version_supported(spec.version()) {
        return Err(BundleError::Version {
            found: spec.version().clone(),
        });
    }
    let Some(root) = spec.root() else {
        return Err(BundleError::MissingField {
            field: "root",
            why: "a root filesystem is required",
        });
    };
    if root.path().as_os_str().is_empty() {
        return Err(invalid("root.path", "", "must not be empty"));
    }
    validate_process(spec)?;
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !m.destination().is_absolute() {
            return Err(invalid(
                format!("mounts[{i}].destination"),
                m.destination().display(),
                "must be an absolute path",
            ));
        }
    }
    validate_hooks(spec)?;
    if let Some(linux) = spec.linux() {
        validate_linux(spec, linux)?;
    }
    Ok(())
}

fn validate_process(spec: &Spec) -> Result<()> {
    let Some(process) = spec.process() else {
        return Err(BundleError::MissingField {
            field: "process",
            why: "a process is required to create a container",
        });
    };
    match process.args() {
        Some(args) if !args.is_empty() && !args[0].is_empty() => {}
        _ => {
            return Err(BundleError::MissingField {
                field: "process.args",
                why: "must name the program to run",
            })
        }
    }
    if !process.cwd().is_absolute() {
        return Err(invalid(
            "process.cwd",
            process.cwd().display(),
            "must be an absolute path",
        ));
    }
    for (i, e) in process.env().iter().flatten().enumerate() {
        if !e.contains('=') {
            return Err(invalid(format!("process.env[{i}]"), e, "must be KEY=VALUE"));
        }
    }
    let mut seen = Vec::new();
    for rl in process.rlimits().iter().flatten() {
        if rl.soft() > rl.hard() {
            return Err(invalid(
                format!("process.rlimits {}", crate::serde_name(&rl.typ())),
                format!("soft {} hard {}", rl.soft(), rl.hard()),
                "the soft limit exceeds the hard limit",
            ));
        }
        if seen.contains(&rl.typ()) {
            return Err(invalid(
                "process.rlimits",
                crate::serde_name(&rl.typ()),
                "is given twice",
            ));
        }
        seen.push(rl.typ());
    }
    if let Some(adj) = process.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            return Err(invalid(
                "process.oomScoreAdj",
                adj,
                "must be between -1000 and 1000",
            ));
        }
    }
    if let Some(profile) = process.apparmor_profile() {
        if !profile.is_empty() && !crate::init::lsm::apparmor_enabled() {
            return Err(invalid(
                "process.apparmorProfile",
                profile,
                "AppArmor is not enabled on this host",
            ));
        }
    }
    if let Some(label) = process.selinux_label() {
        if !label.is_empty() && !crate::init::lsm::selinux_enabled() {
            return Err(invalid(
                "process.selinuxLabel",
                label,
                "SELinux is not enabled on this host",
            ));
        }
    }
    Ok(())
}

fn validate_hooks(spec: &Spec) -> Result<()> {
    let Some(hooks) = spec.hooks() else {
        return Ok(());
    };
    #[allow(deprecated)]
    let lists = [
        ("prestart", hooks.prestart()),
        ("createRuntime", hooks.create_runtime()),
        ("createContainer", hooks.create_container()),
        ("startContainer", hooks.start_container()),
        ("poststart", hooks.poststart()),
        ("poststop", hooks.poststop()),
    ];
    for (name, list) in lists {
        for (i, h) in list.iter().flatten().enumerate() {
            if !h.path().is_absolute() {
                return Err(invalid(
                    format!("hooks.{name}[{i}].path"),
                    h.path().display(),
                    "must be an absolute path",
                ));
            }
            if h.timeout() == Some(0) || h.timeout().is_some_and(|t| t < 0) {
                return Err(invalid(
                    format!("hooks.{name}[{i}].timeout"),
                    h.timeout().unwrap_or(0),
                    "must be positive",
                ));
            }
        }
    }
    Ok(())
}

fn validate_linux(spec: &Spec, linux: &oci_spec::runtime::Linux) -> Result<()> {
    let mut types = HashSet::new();
    for ns in linux.namespaces().iter().flatten() {
        if !types.insert(ns.typ()) {
            return Err(invalid("linux.namespaces", ns.typ(), "is listed twice"));
        }
        if let Some(p) = ns.path() {
            if !p.is_absolute() {
                return Err(invalid(
                    format!("linux.namespaces[{}].path", ns.typ()),
                    p.display(),
                    "must be an absolute path",
                ));
            }
        }
        if namespaces::clone_flag(ns.typ()).is_none() {
            return Err(invalid(
                "linux.namespaces",
                ns.typ(),
                "is not supported by husk",
            ));
        }
    }
    let has = |t: LinuxNamespaceType| types.contains(&t);
    let new_user = linux
        .namespaces()
        .iter()
        .flatten()
        .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
    let maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if new_user && !maps {
        return Err(invalid(
            "linux.uidMappings",
            "[]",
            "a new user namespace needs uidMappings and gidMappings",
        ));
    }
    if maps && !has(LinuxNamespaceType::User) {
        return Err(invalid(
            "linux.uidMappings",
            "…",
            "id mappings need a user namespace in linux.namespaces",
        ));
    }
    for (field, maps) in [
        ("linux.uidMappings", linux.uid_mappings()),
        ("linux.gidMappings", linux.gid_mappings()),
    ] {
        for m in maps.iter().flatten() {
            if m.size() == 0 {
                return Err(invalid(
                    field,
                    m.container_id(),
                    "a mapping of size 0 maps nothing",
                ));
            }
        }
    }
    if (spec.hostname().as_ref().is_some_and(|h| !h.is_empty())
        || spec.domainname().as_ref().is_some_and(|h| !h.is_empty()))
        && !has(LinuxNamespaceType::Uts)
    {
        return Err(invalid(
            "hostname",
            spec.hostname().clone().unwrap_or_default(),
            "setting a hostname needs a private UTS namespace",
        ));
    }
    if linux.time_offsets().as_ref().is_some_and(|o| !o.is_empty())
        && !has(LinuxNamespaceType::Time)
    {
        return Err(invalid(
            "linux.timeOffsets",
            "…",
            "time offsets need a time namespace",
        ));
    }
    for (k, _) in linux.sysctl().iter().flatten() {
        validate_sysctl(k, &has)?;
    }
    for (field, list) in [
        ("linux.maskedPaths", linux.masked_paths()),
        ("linux.readonlyPaths", linux.readonly_paths()),
    ] {
        for p in list.iter().flatten() {
            if !p.starts_with('/') {
                return Err(invalid(field, p, "must be an absolute path"));
            }
        }
    }
    if let Some(prop) = linux.rootfs_propagation() {
        if crate::init::rootfs::propagation_flag(prop).is_none() {
            return Err(invalid(
                "linux.rootfsPropagation",
                prop,
                "must be one of shared, slave, private, unbindable, rshared, rslave, rprivate, runbindable",
            ));
        }
    }
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        if !d.path().is_absolute() {
            return Err(invalid(
                format!("linux.devices[{i}].path"),
                d.path().display(),
                "must be an absolute path",
            ));
        }
    }
    if let Some(seccomp) = linux.seccomp() {
        validate_seccomp(seccomp)?;
    }
    if let Some(label) = linux.mount_label() {
        if !label.is_empty() && !crate::init::lsm::selinux_enabled() {
            return Err(invalid(
                "linux.mountLabel",
                label,
                "SELinux is not enabled on this host",
            ));
        }
    }
    Ok(())
}

/// A sysctl may only be set when the namespace it belongs to is the
/// container's own (runc's rule): otherwise it would change the host.
fn validate_sysctl(key: &str, has: &dyn Fn(LinuxNamespaceType) -> bool) -> Result<()> {
    use LinuxNamespaceType as T;
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let needs = if ipc.contains(&key) || key.starts_with("fs.mqueue.") {
        Some((T::Ipc, "an IPC namespace"))
    } else if key.starts_with("net.") {
        Some((T::Network, "a network namespace"))
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some((T::Uts, "a UTS namespace"))
    } else {
        None
    };
    match needs {
        Some((t, _)) if has(t) => Ok(()),
        Some((_, name)) => Err(invalid(
            "linux.sysctl",
            key,
            format!("needs {name} of the container's own"),
        )),
        None => Err(invalid(
            "linux.sysctl",
            key,
            "is not namespaced: it would change the host",
        )),
    }
}

fn validate_seccomp(seccomp: &oci_spec::runtime::LinuxSeccomp) -> Result<()> {
    let default = seccomp.default_action();
    for (i, rule) in seccomp.syscalls().iter().flatten().enumerate() {
        if rule.names().is_empty() {
            return Err(invalid(
                format!("linux.seccomp.syscalls[{i}].names"),
                "[]",
                "must name at least one syscall",
            ));
        }
        // A rule that loosens the default for a syscall libseccomp does not know
        // changes nothing (the default still applies), so it is skipped like runc
        // does. A rule that restricts it cannot be enforced: refuse it.
        let restricts = rule.action() != LinuxSeccompAction::ScmpActAllow
            && rule.action() != LinuxSeccompAction::ScmpActLog
            || default == LinuxSeccompAction::ScmpActAllow;
        for name in rule.names() {
            if restricts && libseccomp::ScmpSyscall::from_name(name).is_err() {
                return Err(invalid(
                    format!("linux.seccomp.syscalls[{i}].names"),
                    name,
                    "unknown syscall: its rule cannot be enforced",
                ));
            }
        }
        if rule.action() == LinuxSeccompAction::ScmpActNotify && seccomp.listener_path().is_none() {
            return Err(invalid(
                format!("linux.seccomp.syscalls[{i}].action"),
                "SCMP_ACT_NOTIFY",
                "needs linux.seccomp.listenerPath",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> std::result::Result<Spec, String> {
        parse(json.as_bytes())
    }

    const BASE: &str = r#"{"ociVersion":"1.0.2-dev","root":{"path":"rootfs"},
        "process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},
        "linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"uts"}]}}"#;

    fn with(f: impl FnOnce(&mut serde_json::Value)) -> Result<()> {
        let mut v: serde_json::Value = serde_json::from_str(BASE).unwrap();
        f(&mut v);
        validate(
            &spec(&v.to_string()).map_err(|msg| BundleError::ParseConfig {
                path: "x".into(),
                msg,
            })?,
        )
    }

    #[test]
    fn base_config_is_valid() {
        with(|_| {}).unwrap();
    }

    #[test]
    fn supported_versions() {
        for v in [
            "1.0.0",
            "1.0.2-dev",
            "1.1.0",
            "1.2.0",
            "1.2.1",
            "1.1.0-rc.1",
        ] {
            assert!(version_supported(v), "{v}");
        }
        for v in ["", "2.0.0", "0.9.0", "1.3.0", "1.0", "x.y.z", "1.0.0.0"] {
            assert!(!version_supported(v), "{v}");
        }
    }

    #[test]
    fn unknown_oci_version_is_named() {
        let e = with(|v| v["ociVersion"] = "2.0.0".into()).unwrap_err();
        assert!(e.to_string().contains("\"2.0.0\""), "{e}");
    }

    #[test]
    fn empty_args_are_refused() {
        let e = with(|v| v["process"]["args"] = serde_json::json!([])).unwrap_err();
        assert!(e.to_string().contains("process.args"), "{e}");
        let e = with(|v| {
            v["process"]
                .as_object_mut()
                .unwrap()
                .remove("args")
                .map(drop)
                .unwrap()
        })
        .unwrap_err();
        assert!(e.to_string().contains("process.args"), "{e}");
    }

    #[test]
    fn relative_cwd_is_refused() {
        let e = with(|v| v["process"]["cwd"] = "tmp".into()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid config.json: process.cwd \"tmp\": must be an absolute path"
        );
    }

    #[test]
    fn unknown_capability_names_the_field() {
        let e =
            with(|v| v["process"]["capabilities"] = serde_json::json!({"bounding":["CAP_NOPE"]}))
                .unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("process.capabilities.bounding") && s.contains("CAP_NOPE"),
            "{s}"
        );
        assert!(!s.contains("expected one of"), "{s}");
    }

    #[test]
    fn hostname_needs_uts_namespace() {
        let e = with(|v| {
            v["hostname"] = "h".into();
            v["linux"]["namespaces"] = serde_json::json!([{"type":"mount"}]);
        })
        .unwrap_err();
        assert!(e.to_string().contains("UTS"), "{e}");
    }

    #[test]
    fn duplicate_namespace_is_refused() {
        let e =
            with(|v| v["linux"]["namespaces"] = serde_json::json!([{"type":"pid"},{"type":"pid"}]))
                .unwrap_err();
        assert!(e.to_string().contains("listed twice"), "{e}");
    }

    #[test]
    fn user_namespace_needs_mappings() {
        let e =
            with(|v| v["linux"]["namespaces"] = serde_json::json!([{"type":"user"}])).unwrap_err();
        assert!(e.to_string().contains("uidMappings"), "{e}");
    }

    #[test]
    fn sysctls_must_belong_to_a_private_namespace() {
        let e = with(|v| v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward":"1"}))
            .unwrap_err();
        assert!(e.to_string().contains("network namespace"), "{e}");
        let e =
            with(|v| v["linux"]["sysctl"] = serde_json::json!({"vm.swappiness":"1"})).unwrap_err();
        assert!(e.to_string().contains("not namespaced"), "{e}");
        with(|v| v["linux"]["sysctl"] = serde_json::json!({"kernel.domainname":"x"})).unwrap();
    }

    #[test]
    fn restricting_rule_for_unknown_syscall_is_refused() {
        let e = with(|v| {
            v["linux"]["seccomp"] = serde_json::json!({"defaultAction":"SCMP_ACT_ALLOW",
                "syscalls":[{"names":["not_a_syscall"],"action":"SCMP_ACT_ERRNO"}]})
        })
        .unwrap_err();
        assert!(e.to_string().contains("not_a_syscall"), "{e}");
        // Allowing an unknown syscall under a deny-by-default profile is harmless.
        with(|v| {
            v["linux"]["seccomp"] = serde_json::json!({"defaultAction":"SCMP_ACT_ERRNO",
                "syscalls":[{"names":["not_a_syscall","read"],"action":"SCMP_ACT_ALLOW"}]})
        })
        .unwrap();
    }

    #[test]
    fn soft_rlimit_above_hard_is_refused() {
        let e = with(|v| {
            v["process"]["rlimits"] =
                serde_json::json!([{"type":"RLIMIT_NOFILE","soft":10,"hard":5}])
        })
        .unwrap_err();
        assert!(e.to_string().contains("exceeds"), "{e}");
    }

    #[test]
    fn relative_mount_destination_is_refused() {
        let e = with(|v| {
            v["mounts"] = serde_json::json!([{"destination":"tmp","type":"tmpfs","source":"tmpfs"}])
        })
        .unwrap_err();
        assert!(e.to_string().contains("mounts[0].destination"), "{e}");
    }

    #[test]
    fn bundle_paths_are_cleaned() {
        assert_eq!(
            absolute(Path::new("/a/./b/../c")).unwrap(),
            Path::new("/a/c")
        );
        assert_eq!(absolute(Path::new("/..")).unwrap(), Path::new("/"));
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute(Path::new(".")).unwrap(), cwd);
    }

    #[test]
    fn malformed_json_reports_position() {
        let e = spec("{\"ociVersion\": ").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
    }

    /// The message for a config whose JSON text is BASE with `from`
    /// replaced by `to` (the text, not a Value: positions matter here).
    fn parse_error(from: &str, to: &str) -> String {
        assert!(BASE.contains(from), "{from}");
        spec(&BASE.replacen(from, to, 1)).unwrap_err()
    }

    #[test]
    fn parse_errors_name_the_json_path() {
        let e = parse_error(r#""uid":0"#, r#""uid":"x""#);
        assert!(
            e.starts_with("process.user.uid: invalid type: string \"x\""),
            "{e}"
        );
        let e = parse_error(r#"{"type":"uts"}"#, r#"{"type":"utz"}"#);
        assert!(
            e.starts_with("linux.namespaces[2].type: unknown variant `utz`"),
            "{e}"
        );
        assert!(!e.contains("expected one of"), "{e}");
        // A struct that lacks a field: the path is the struct's.
        let e = parse_error(r#"{"type":"uts"}"#, r#"{"path":"/x"}"#);
        assert!(
            e.starts_with("linux.namespaces[2]: missing field `type`"),
            "{e}"
        );
        let e = parse_error(r#""cwd":"/","#, r#""cwd":"/","env":["A=1",2],"#);
        assert!(
            e.starts_with("process.env[1]: invalid type: integer `2`"),
            "{e}"
        );
        // Keys, strings with brackets and escapes do not confuse the path.
        let e = parse_error(
            r#""args":["sh"]"#,
            r#""args":["sh","{[\"]}"],"oomScoreAdj":"q""#,
        );
        assert!(e.starts_with("process.oomScoreAdj: invalid type"), "{e}");
        // Nothing to name at the top level.
        let e = spec("\"x\"").unwrap_err();
        assert!(
            e.starts_with("invalid type: string \"x\", expected struct Spec"),
            "{e}"
        );
    }

    #[test]
    fn exec_cpu_affinity_is_checked() {
        let base = r#""cwd":"/","#;
        let set = |a: &str| format!(r#""cwd":"/","execCPUAffinity":{{{a}}},"#);
        spec(&BASE.replacen(base, &set(r#""initial":"0-1,3","final":"2""#), 1)).unwrap();
        for bad in ["0-1,x", "1,", "\u{0663}"] {
            let e = parse_error(base, &set(&format!(r#""initial":"{bad}","final":"0""#)));
            assert!(
                e.starts_with("process.execCPUAffinity.initial: Invalid execCPUAffinity format"),
                "{bad}: {e}"
            );
        }
    }
}
