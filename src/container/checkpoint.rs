//! `checkpoint`: CRIU dumps a running (or paused) container into an image
//! directory, with runc's options. A final dump ends the processes and,
//! as runc does, destroys the container, so that `restore` can bring it
//! back under the same id; `--leave-running` and `--pre-dump` keep it.
//!
//! Runs in: the runtime, under the container's lock. What is CRIU's
//! business (arguments, external mounts, stdio, the log) is `criu`.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::{observe, ContainerError, Result};
use crate::criu::{self, CgroupsMode, CriuError, ExternalMount};
use crate::lifecycle::{self, Command};
use crate::process::namespaces::NamespacePlan;
use crate::store::{CgroupRecord, Locked};

/// runc's checkpoint flags.
#[derive(Debug, Default, Clone)]
pub struct CheckpointOptions {
    pub images: PathBuf,
    /// CRIU's logs and scratch files (default: the image directory).
    pub work: Option<PathBuf>,
    /// A pre-dump to build on, relative to the image directory.
    pub parent: Option<PathBuf>,
    pub leave_running: bool,
    pub pre_dump: bool,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups: Option<CgroupsMode>,
    /// runc's --empty-ns: namespaces CRIU recreates empty. Only the
    /// network namespace can be, and it always is (as runc does).
    pub empty_ns: Vec<String>,
}

pub fn checkpoint(ct: Locked, opts: &CheckpointOptions) -> Result<()> {
    let phase = observe(&ct.record);
    let keep = opts.leave_running || opts.pre_dump;
    let cmd = if keep {
        Command::CheckpointLeaveRunning
    } else {
        Command::Checkpoint
    };
    lifecycle::check(&ct.id, phase, cmd)?;
    let criu = criu::find()?;
    let spec = stored_spec(&ct)?;
    let ns = NamespacePlan::from_config(
        spec.linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_deref())
            .unwrap_or(&[]),
    );
    check_supported(&ns, &opts.empty_ns)?;
    let images = make_dir(&opts.images, "image directory")?;
    let work = match &opts.work {
        Some(w) => make_dir(w, "work directory")?,
        None => images.clone(),
    };
    if let Some(p) = &opts.parent {
        if !images.join(p).is_dir() {
            return Err(CriuError::BadPath {
                what: "parent image directory",
                path: images.join(p),
                why: "it does not exist (--parent-path is relative to --image-path)".into(),
            }
            .into());
        }
    }

    // What CRIU must be told about: mounts from outside the container,
    // stdio opened outside it (both as seen by its init right now).
    let pid = ct.record.pid;
    let mountinfo = format!("/proc/{pid}/mountinfo");
    let text = fs::read_to_string(&mountinfo).map_err(|source| CriuError::Io {
        what: "read",
        path: mountinfo.into(),
        source,
    })?;
    let mounts = criu::parse_mountinfo(&text);
    let binds = bind_mounts(&spec);
    let external: Vec<ExternalMount> = criu::external_mounts(&mounts)
        .into_iter()
        .map(|m| ExternalMount {
            key: m.mountpoint.clone(),
            source: criu::mount_source(m, &binds),
        })
        .collect();
    let stdio = criu::stdio_of(pid, &mounts);
    let mut externals: Vec<String> = external.iter().map(ExternalMount::dump_arg).collect();
    externals.extend(
        stdio
            .iter()
            .filter_map(|s| s.dump_external().map(String::from)),
    );

    let empty_net = ns.creates(LinuxNamespaceType::Network);
    let dump = criu::Dump {
        common: criu::Common {
            images: images.clone(),
            work,
            tcp_established: opts.tcp_established,
            ext_unix_sk: opts.ext_unix_sk,
            shell_job: opts.shell_job,
            file_locks: opts.file_locks,
            manage_cgroups: opts.manage_cgroups,
            empty_net,
        },
        pid,
        root: ct.record.rootfs.clone(),
        pre_dump: opts.pre_dump,
        leave_running: opts.leave_running,
        parent: opts.parent.clone(),
        freeze_cgroup: freezer_dir(&ct.record.cgroup),
        externals,
        // Debian's criu locks the network with iptables by default, and
        // fails where it is not installed; nftables is built in.
        nftables_lock: empty_net && !criu::on_path("iptables-restore"),
    };
    log::debug!("container {}: checkpoint into {}", ct.id, images.display());
    criu::run_dump(&criu, &dump)?;
    criu::Meta {
        id: ct.id.clone(),
        bundle: ct.record.bundle.clone(),
        stdio,
        mounts: external,
        empty_net,
    }
    .write(&images)?;
    let kind = if opts.pre_dump {
        "pre-dumped"
    } else {
        "checkpointed"
    };
    crate::shim::events::append(
        &ct.dir,
        &crate::shim::events::Event::new(kind, &ct.id)
            .with("imagePath", images.display().to_string()),
    );
    if keep {
        return Ok(());
    }
    // CRIU has killed the processes after the dump. As runc does, the
    // container goes too (cgroup, state, shim, poststop hooks): its id is
    // free for `restore`. Forced, as a paused container's tasks only die
    // once thawed.
    log::info!("container {}: checkpointed; destroying it", ct.id);
    super::delete::delete(ct, true)
}

/// What CRIU (through its command line) cannot do for a container.
fn check_supported(ns: &NamespacePlan, empty_ns: &[String]) -> Result<()> {
    if let Some((t, path)) = ns.join.first() {
        return Err(ContainerError::Usage(format!(
            "cannot checkpoint a container that joins an existing {t:?} namespace ({}): \
             CRIU would need it named external, which husk does not do",
            path.display()
        )));
    }
    if let Some(bad) = empty_ns
        .iter()
        .find(|n| !matches!(n.as_str(), "network" | "net"))
    {
        return Err(ContainerError::Usage(format!(
            "--empty-ns {bad:?}: CRIU can only leave the network namespace empty"
        )));
    }
    Ok(())
}

/// The container's config as create stored it.
pub(crate) fn stored_spec(ct: &Locked) -> Result<Spec> {
    let path = ct.path(crate::store::CONFIG_FILE);
    let bytes = fs::read(&path).map_err(|source| crate::store::StoreError::Read {
        path: path.clone(),
        source,
    })?;
    crate::bundle::parse(&bytes)
        .map_err(|msg| crate::bundle::BundleError::ParseConfig { path, msg }.into())
}

/// Destination → source of the config's bind mounts.
pub(crate) fn bind_mounts(spec: &Spec) -> Vec<(String, PathBuf)> {
    spec.mounts()
        .iter()
        .flatten()
        .filter(|m| {
            m.typ().as_deref() == Some("bind")
                || m.options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind")
        })
        .filter_map(|m| Some((m.destination().display().to_string(), m.source().clone()?)))
        .collect()
}

/// The cgroup CRIU freezes the tree with: the v1 freezer's directory, else
/// the cgroup v2 directory (cgroup.freeze).
fn freezer_dir(rec: &CgroupRecord) -> Option<PathBuf> {
    rec.paths
        .iter()
        .find(|(k, _)| k.split(',').any(|c| c == "freezer"))
        .or_else(|| rec.paths.get_key_value(""))
        .map(|(_, d)| d.clone())
}

/// Makes (0700, with parents) and returns the absolute path of a
/// directory CRIU writes to.
fn make_dir(dir: &Path, what: &'static str) -> Result<PathBuf> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| CriuError::Io {
            what: "create",
            path: dir.into(),
            source,
        })?;
    crate::bundle::absolute(dir).ok_or_else(|| {
        CriuError::BadPath {
            what,
            path: dir.into(),
            why: "cannot make it absolute".into(),
        }
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_v1_freezer_is_preferred_to_the_unified_directory() {
        let mut rec = CgroupRecord::default();
        rec.paths
            .insert("".into(), "/sys/fs/cgroup/unified/c".into());
        assert_eq!(
            freezer_dir(&rec),
            Some(PathBuf::from("/sys/fs/cgroup/unified/c"))
        );
        rec.paths
            .insert("freezer".into(), "/sys/fs/cgroup/freezer/c".into());
        rec.paths
            .insert("cpu,cpuacct".into(), "/sys/fs/cgroup/cpu,cpuacct/c".into());
        assert_eq!(
            freezer_dir(&rec),
            Some(PathBuf::from("/sys/fs/cgroup/freezer/c"))
        );
    }

    #[test]
    fn only_the_network_namespace_may_be_left_empty() {
        let ns = NamespacePlan::default();
        assert!(check_supported(&ns, &["network".into()]).is_ok());
        let e = check_supported(&ns, &["ipc".into()]).unwrap_err();
        assert!(e.to_string().contains("only leave the network"), "{e}");
    }

    #[test]
    fn bind_mounts_are_found_by_type_or_option() {
        let spec = crate::bundle::parse(
            br#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},
            "process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},
            "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
                      {"destination":"/data","source":"/srv/data","options":["rbind","rw"]},
                      {"destination":"/etc/hosts","type":"bind","source":"/etc/hosts"}]}"#,
        )
        .unwrap();
        assert_eq!(
            bind_mounts(&spec),
            [
                ("/data".to_string(), PathBuf::from("/srv/data")),
                ("/etc/hosts".to_string(), PathBuf::from("/etc/hosts")),
            ]
        );
    }
}
