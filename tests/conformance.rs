//! In-container conformance, in the spirit of the OCI runtime-tools
//! validation suite: each test starts a real busybox container whose
//! config.json sets a property, and proves from inside (busybox applets on
//! /proc, /sys, /dev) that the property holds.
//!
//! Probes print `## name` section headers so one container can answer
//! several questions; `sections` splits the output back.

mod common;

use std::collections::HashMap;
use std::fs;
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Stdio;

use common::{Bundle, TestEnv};
use serde_json::{json, Value};

/// Runs the bundle in the foreground, asserts exit 0, returns stdout.
#[track_caller]
fn probe(t: &TestEnv, b: &Bundle) -> String {
    let r = t.run(b);
    assert_eq!(
        r.code, 0,
        "container failed; stdout: {}\nstderr: {}",
        r.stdout, r.stderr
    );
    r.stdout
}

/// Splits probe output at `## name` lines: name -> the lines after it.
fn sections(out: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let mut cur: Option<(String, String)> = None;
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("## ") {
            if let Some((n, body)) = cur.take() {
                map.insert(n, body);
            }
            cur = Some((name.trim().to_string(), String::new()));
        } else if let Some((_, body)) = cur.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some((n, body)) = cur {
        map.insert(n, body);
    }
    map
}

/// The section `name`, trimmed; panics with the whole output when missing.
#[track_caller]
fn sec<'a>(s: &'a HashMap<String, String>, name: &str) -> &'a str {
    s.get(name)
        .unwrap_or_else(|| panic!("no section {name:?} in {s:#?}"))
        .trim()
}

/// One line of /proc/self/mountinfo.
#[derive(Debug)]
struct MountInfo {
    point: String,
    opts: Vec<String>,
    fstype: String,
    super_opts: Vec<String>,
}

fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            let split = |s: &str| s.split(',').map(str::to_string).collect();
            Some(MountInfo {
                point: pre.get(4)?.to_string(),
                opts: split(pre.get(5)?),
                fstype: post.first()?.to_string(),
                super_opts: split(post.get(2).unwrap_or(&"")),
            })
        })
        .collect()
}

/// The topmost mount at `point`.
#[track_caller]
fn mount_at<'a>(mi: &'a [MountInfo], point: &str) -> &'a MountInfo {
    mi.iter()
        .rev()
        .find(|m| m.point == point)
        .unwrap_or_else(|| panic!("nothing mounted at {point}: {mi:#?}"))
}

/// The value of `key:` in /proc/self/status text.
#[track_caller]
fn status_field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {status}"))
        .trim()
}

fn host_ns(kind: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .display()
        .to_string()
}

/// Detaches a mount the test made on the host, pass or fail.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn mounts_have_the_types_and_flags_of_the_config() {
    let Some(t) = TestEnv::new("mounts") else {
        return;
    };
    // A host directory with a mount inside it: rbind carries the submount
    // along, a plain bind does not.
    let host = t.dir.join("hostdir");
    fs::create_dir_all(host.join("sub")).unwrap();
    fs::write(host.join("file"), "from-host\n").unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &host.join("sub"),
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=64k"),
    )
    .unwrap();
    let _unmount = Unmount(host.join("sub"));
    fs::write(host.join("sub/inner"), "submount\n").unwrap();

    // Pure v2 hosts show the container's cgroup2 directory at /sys/fs/cgroup;
    // v1 and hybrid hosts a tmpfs with one directory per hierarchy.
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let cg_dir = if v2 {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/memory"
    };
    let script = format!(
        "echo '## mountinfo'; cat /proc/self/mountinfo
         echo '## ro-read'; cat /mnt/ro/file
         echo '## ro-write'; touch /mnt/ro/new 2>&1 || echo refused
         echo '## rbind'; cat /mnt/rbind/sub/inner
         echo '## bind'; ls -A /mnt/ro/sub
         echo '## noexec'; cp /bin/busybox /mnt/tmp/bb && /mnt/tmp/bb true 2>&1; echo rc=$?
         echo '## tmp-write'; echo x > /mnt/tmp/f && cat /mnt/tmp/f
         echo '## cgroup-ls'; ls /sys/fs/cgroup
         echo '## cgroup-memory'; ls {cg_dir}
         echo '## cgroup-write'; mkdir {cg_dir}/x 2>&1 || echo refused
         echo '## cgroup-tmpfs-write'; touch /sys/fs/cgroup/x 2>&1 || echo refused
         echo '## sys-write'; touch /sys/x 2>&1 || echo refused"
    );
    let mut b = t.bundle(&["sh", "-c", &script]);
    let src = host.to_str().unwrap().to_string();
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(
            json!({"destination": "/mnt/tmp", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "nodev", "noexec", "size=4m", "mode=1770"]}),
        );
        m.push(
            json!({"destination": "/mnt/ro", "type": "bind", "source": src,
            "options": ["bind", "ro"]}),
        );
        m.push(
            json!({"destination": "/mnt/rbind", "type": "bind", "source": src,
            "options": ["rbind"]}),
        );
    });
    let out = probe(&t, &b);
    let s = sections(&out);
    let mi = parse_mountinfo(sec(&s, "mountinfo"));

    let tmp = mount_at(&mi, "/mnt/tmp");
    assert_eq!(tmp.fstype, "tmpfs");
    for f in ["nosuid", "nodev", "noexec", "rw"] {
        assert!(tmp.opts.contains(&f.to_string()), "/mnt/tmp: {tmp:?}");
    }
    assert!(tmp.super_opts.contains(&"size=4096k".into()), "{tmp:?}");
    assert!(tmp.super_opts.contains(&"mode=1770".into()), "{tmp:?}");
    assert!(sec(&s, "noexec").contains("Permission denied"), "{out}");
    assert!(sec(&s, "noexec").ends_with("rc=126"), "{out}");
    assert_eq!(sec(&s, "tmp-write"), "x");

    let ro = mount_at(&mi, "/mnt/ro");
    assert!(ro.opts.contains(&"ro".into()), "{ro:?}");
    assert_eq!(sec(&s, "ro-read"), "from-host");
    assert!(
        sec(&s, "ro-write").contains("Read-only file system"),
        "{out}"
    );
    assert!(!host.join("new").exists());
    // A plain bind leaves the submount behind; rbind brings it.
    assert_eq!(sec(&s, "bind"), "");
    assert_eq!(sec(&s, "rbind"), "submount");
    assert!(mount_at(&mi, "/mnt/rbind").opts.contains(&"rw".into()));
    assert_eq!(mount_at(&mi, "/mnt/rbind/sub").fstype, "tmpfs");

    // The default mounts of `husk spec`.
    assert_eq!(mount_at(&mi, "/proc").fstype, "proc");
    let sys = mount_at(&mi, "/sys");
    assert_eq!(sys.fstype, "sysfs");
    assert!(sys.opts.contains(&"ro".into()), "{sys:?}");
    assert!(
        sec(&s, "sys-write").contains("Read-only file system"),
        "{out}"
    );
    let dev = mount_at(&mi, "/dev");
    assert_eq!(dev.fstype, "tmpfs");
    assert!(dev.opts.contains(&"nosuid".into()), "{dev:?}");
    assert!(dev.super_opts.contains(&"mode=755".into()), "{dev:?}");
    let pts = mount_at(&mi, "/dev/pts");
    assert_eq!(pts.fstype, "devpts");
    assert!(pts.super_opts.contains(&"ptmxmode=666".into()), "{pts:?}");
    assert!(pts.super_opts.contains(&"gid=5".into()), "{pts:?}");
    let shm = mount_at(&mi, "/dev/shm");
    assert_eq!(shm.fstype, "tmpfs");
    for f in ["nosuid", "nodev", "noexec"] {
        assert!(shm.opts.contains(&f.to_string()), "{shm:?}");
    }
    assert!(shm.super_opts.contains(&"size=65536k".into()), "{shm:?}");
    assert_eq!(mount_at(&mi, "/dev/mqueue").fstype, "mqueue");

    let cg = mount_at(&mi, "/sys/fs/cgroup");
    assert!(cg.opts.contains(&"ro".into()), "{cg:?}");
    let ls: Vec<&str> = sec(&s, "cgroup-ls").lines().collect();
    if v2 {
        // type cgroup on pure v2: the container's own cgroup2 directory,
        // read-only (the root cgroup would have no memory.max).
        assert_eq!(cg.fstype, "cgroup2", "{cg:?}");
        for f in ["cgroup.procs", "memory.max", "pids.max"] {
            assert!(ls.contains(&f), "/sys/fs/cgroup lacks {f}: {ls:?}");
        }
    } else {
        // type cgroup on v1 and hybrid hosts: one read-only bind per hierarchy.
        let mem = mount_at(&mi, "/sys/fs/cgroup/memory");
        assert_eq!(mem.fstype, "cgroup");
        assert!(mem.opts.contains(&"ro".into()), "{mem:?}");
        assert!(mem.super_opts.contains(&"memory".into()), "{mem:?}");
        for c in ["memory", "pids", "cpu", "devices"] {
            assert!(ls.contains(&c), "/sys/fs/cgroup lacks {c}: {ls:?}");
        }
        assert!(
            sec(&s, "cgroup-memory").contains("memory.limit_in_bytes"),
            "{out}"
        );
    }
    assert!(
        sec(&s, "cgroup-write").contains("Read-only file system"),
        "{out}"
    );
    assert!(
        sec(&s, "cgroup-tmpfs-write").contains("Read-only file system"),
        "{out}"
    );
    drop(_unmount);
    t.assert_clean(&t.id);
}

#[test]
fn namespaces_of_the_config_are_new_and_the_process_is_pid_1() {
    let Some(t) = TestEnv::new("ns") else { return };
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "echo '## pid1'; echo $$
         for n in pid uts ipc net mnt cgroup user; do echo \"## $n\"; readlink /proc/self/ns/$n; done
         echo '## links'; ls /sys/class/net
         echo '## lo'; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags
         echo '## netdev'; tail -n +3 /proc/net/dev | cut -d: -f1
         echo '## cgroup-paths'; cat /proc/self/cgroup",
    ]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "cgroup"}));
    });
    let s = sections(&probe(&t, &b));
    assert_eq!(sec(&s, "pid1"), "1");
    for (inside, host) in [
        ("pid", "pid"),
        ("uts", "uts"),
        ("ipc", "ipc"),
        ("net", "net"),
        ("mnt", "mnt"),
        ("cgroup", "cgroup"),
    ] {
        assert_ne!(sec(&s, inside), host_ns(host), "{inside} namespace shared");
        assert!(sec(&s, inside).starts_with(&format!("{inside}:[")), "{s:?}");
    }
    // No user namespace asked for: the host's.
    assert_eq!(sec(&s, "user"), host_ns("user"));
    // A new network namespace has the loopback device and nothing else.
    assert_eq!(sec(&s, "links"), "lo");
    // Up, as runc leaves it (IFF_UP is bit 0 of the flags).
    let flags = u32::from_str_radix(
        sec(&s, "lo")
            .lines()
            .nth(1)
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    assert_eq!(flags & 1, 1, "lo is down: {}", sec(&s, "lo"));
    assert_eq!(sec(&s, "netdev"), "lo");
    // In its own cgroup namespace the container's cgroups are its roots.
    let cg = sec(&s, "cgroup-paths");
    assert!(
        cg.lines().all(|l| l.ends_with(":/")),
        "cgroup paths are not namespace roots: {cg}"
    );
    t.assert_clean(&t.id);
}

#[test]
fn namespaces_left_out_of_the_config_are_the_hosts() {
    let Some(t) = TestEnv::new("ns-shared") else {
        return;
    };
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "for n in ipc net cgroup; do echo \"## $n\"; readlink /proc/self/ns/$n; done",
    ]);
    b.edit(|c| {
        c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]);
    });
    let s = sections(&probe(&t, &b));
    for n in ["ipc", "net", "cgroup"] {
        assert_eq!(sec(&s, n), host_ns(n), "{n} namespace not the host's");
    }
    t.assert_clean(&t.id);
}

#[test]
fn user_namespace_maps_ids_from_the_config() {
    let Some(t) = TestEnv::new("userns") else {
        return;
    };
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "echo '## uid_map'; cat /proc/self/uid_map
         echo '## gid_map'; cat /proc/self/gid_map
         echo '## id'; id -u; id -g
         echo '## user'; readlink /proc/self/ns/user
         echo '## owner'; stat -c '%u %g' /bin/busybox",
    ]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 1000}]);
    });
    let s = sections(&probe(&t, &b));
    let fields = |x: &str| x.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(fields(sec(&s, "uid_map")), ["0", "100000", "65536"]);
    assert_eq!(fields(sec(&s, "gid_map")), ["0", "200000", "1000"]);
    assert_eq!(sec(&s, "id"), "0\n0");
    assert_ne!(sec(&s, "user"), host_ns("user"));
    // The rootfs belongs to host root, which the maps leave unmapped.
    assert_eq!(sec(&s, "owner"), "65534 65534");
    t.assert_clean(&t.id);
}

#[test]
fn hostname_and_domainname_are_set() {
    let Some(t) = TestEnv::new("uts") else { return };
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "echo '## hostname'; hostname
         echo '## uname'; uname -n
         echo '## domainname'; cat /proc/sys/kernel/domainname",
    ]);
    b.edit(|c| {
        c["hostname"] = json!("conformance-host");
        c["domainname"] = json!("conformance.example");
    });
    let s = sections(&probe(&t, &b));
    assert_eq!(sec(&s, "hostname"), "conformance-host");
    assert_eq!(sec(&s, "uname"), "conformance-host");
    assert_eq!(sec(&s, "domainname"), "conformance.example");
    t.assert_clean(&t.id);
}

#[test]
fn rlimits_are_applied_soft_and_hard() {
    let Some(t) = TestEnv::new("rlimits") else {
        return;
    };
    // Only lower than the runtime's own hard limits: this host gives no
    // CAP_SYS_RESOURCE to raise them.
    let (_, nofile_hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    assert!(nofile_hard > 1000, "host hard limit too low: {nofile_hard}");
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "echo '## soft'; ulimit -S -n
         echo '## hard'; ulimit -H -n
         echo '## limits'; grep -e 'open files' -e 'Max processes' /proc/self/limits",
    ]);
    b.edit(|c| {
        c["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000},
            {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
        ]);
    });
    let s = sections(&probe(&t, &b));
    assert_eq!(sec(&s, "soft"), "512");
    assert_eq!(sec(&s, "hard"), "1000");
    let limits: Vec<Vec<&str>> = sec(&s, "limits")
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        limits
            .iter()
            .any(|l| l[..5] == ["Max", "open", "files", "512", "1000"]),
        "{limits:?}"
    );
    assert!(
        limits
            .iter()
            .any(|l| l[..4] == ["Max", "processes", "300", "400"]),
        "{limits:?}"
    );
    t.assert_clean(&t.id);
}

const CAP_CHOWN: u64 = 1 << 0;
const CAP_KILL: u64 = 1 << 5;
const CAP_NET_BIND_SERVICE: u64 = 1 << 10;

fn cap_lines(status: &str) -> [u64; 5] {
    ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .map(|k| u64::from_str_radix(status_field(status, k), 16).unwrap())
}

#[test]
fn capabilities_fill_each_of_the_five_sets() {
    let Some(t) = TestEnv::new("caps") else {
        return;
    };
    let script = "grep ^Cap /proc/self/status";
    // Root: every set is exactly the config's list.
    let two = json!(["CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut b = t.bundle(&["sh", "-c", script]);
    b.edit(|c| {
        c["process"]["capabilities"] = json!({"bounding": two, "effective": two,
            "permitted": two, "inheritable": two, "ambient": two});
    });
    let both = CAP_KILL | CAP_NET_BIND_SERVICE;
    assert_eq!(cap_lines(&probe(&t, &b)), [both; 5]);
    t.assert_clean(&t.id);

    // Not root, every set different: each comes from its own list (for a
    // non-root execve the permitted and effective sets become the ambient one).
    let id = t.new_id("user");
    let mut b = t.bundle_named(&id, &["sh", "-c", script]);
    b.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_NET_BIND_SERVICE"]});
    });
    assert_eq!(
        cap_lines(&probe(&t, &b)),
        [
            both,
            CAP_NET_BIND_SERVICE,
            CAP_NET_BIND_SERVICE,
            CAP_CHOWN | both,
            CAP_NET_BIND_SERVICE
        ]
    );
    t.assert_clean(&id);

    // No capabilities in the config: none at all, even for root, and
    // without no_new_privs to stop execve from granting root the bounding set.
    let id = t.new_id("none");
    let mut b = t.bundle_named(&id, &["sh", "-c", script]);
    b.edit(|c| {
        c["process"].as_object_mut().unwrap().remove("capabilities");
        c["process"]["noNewPrivileges"] = json!(false);
    });
    assert_eq!(cap_lines(&probe(&t, &b)), [0; 5]);
    t.assert_clean(&id);
}

#[test]
fn user_groups_and_umask_are_applied() {
    let Some(t) = TestEnv::new("user") else {
        return;
    };
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "echo '## status'; grep -e ^Uid -e ^Gid -e ^Groups /proc/self/status
         echo '## id'; id -u; id -g; id -G
         echo '## umask'; umask
         echo '## mode'; touch /dev/shm/f && stat -c %a /dev/shm/f",
    ]);
    b.edit(|c| {
        c["process"]["user"] =
            json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 23});
    });
    let s = sections(&probe(&t, &b));
    let st = sec(&s, "status");
    assert_eq!(status_field(st, "Uid"), "1000\t1000\t1000\t1000");
    assert_eq!(status_field(st, "Gid"), "1000\t1000\t1000\t1000");
    assert_eq!(status_field(st, "Groups"), "10 20");
    let id: Vec<&str> = sec(&s, "id").lines().collect();
    assert_eq!(id[..2], ["1000", "1000"]);
    let mut groups: Vec<&str> = id[2].split_whitespace().collect();
    groups.sort();
    groups.dedup();
    assert_eq!(groups, ["10", "1000", "20"]);
    assert_eq!(sec(&s, "umask"), "0027");
    assert_eq!(sec(&s, "mode"), "640");
    t.assert_clean(&t.id);
}

#[test]
fn env_and_a_missing_cwd_are_set_up() {
    let Some(t) = TestEnv::new("envcwd") else {
        return;
    };
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "echo '## pwd'; pwd
         echo '## env'; env",
    ]);
    assert!(!b.rootfs().join("work").exists());
    b.edit(|c| {
        c["process"]["cwd"] = json!("/work/deep/dir");
        c["process"]["env"] = json!(["PATH=/bin", "GREETING=hello world", "EMPTY="]);
    });
    let s = sections(&probe(&t, &b));
    assert_eq!(sec(&s, "pwd"), "/work/deep/dir");
    let env: Vec<&str> = sec(&s, "env").lines().collect();
    for v in ["PATH=/bin", "GREETING=hello world", "EMPTY="] {
        assert!(env.contains(&v), "{v} missing: {env:?}");
    }
    // The runtime's own environment does not leak in.
    assert!(!env.iter().any(|e| e.starts_with("CARGO")), "{env:?}");
    assert!(b.rootfs().join("work/deep/dir").is_dir());
    t.assert_clean(&t.id);
}

#[test]
fn masked_paths_are_empty_and_readonly_paths_refuse_writes() {
    let Some(t) = TestEnv::new("paths") else {
        return;
    };
    // Files that are not empty on the host (this kernel has no /proc/kcore).
    for f in ["/proc/keys", "/proc/timer_list", "/proc/version"] {
        assert!(!fs::read_to_string(f).unwrap().is_empty(), "{f}");
    }
    assert!(fs::read_dir("/sys/firmware").unwrap().next().is_some());
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "echo '## keys'; wc -c < /proc/keys
         echo '## timer_list'; wc -c < /proc/timer_list
         echo '## version'; wc -c < /proc/version
         echo '## masked-node'; stat -c '%F %t:%T' /proc/version
         echo '## firmware'; ls -A /sys/firmware
         echo '## firmware-write'; touch /sys/firmware/x 2>&1 || echo refused
         echo '## mountinfo'; cat /proc/self/mountinfo
         echo '## sysctl-write'; (echo x > /proc/sys/kernel/hostname) 2>&1 || echo refused
         echo '## data-write'; touch /data/x 2>&1 || echo refused
         echo '## data-read'; cat /data/keep
         echo '## root-write'; touch /x && echo ok",
    ]);
    fs::create_dir_all(b.rootfs().join("data")).unwrap();
    fs::write(b.rootfs().join("data/keep"), "kept\n").unwrap();
    b.edit(|c| {
        c["linux"]["maskedPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("/proc/version"));
        c["linux"]["readonlyPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("/data"));
    });
    let out = probe(&t, &b);
    let s = sections(&out);
    for f in ["keys", "timer_list", "version"] {
        assert_eq!(sec(&s, f), "0", "/proc/{f} not masked: {out}");
    }
    // A masked file is the null device; a masked directory an empty
    // read-only tmpfs.
    assert_eq!(sec(&s, "masked-node"), "character special file 1:3");
    assert_eq!(sec(&s, "firmware"), "");
    assert!(
        sec(&s, "firmware-write").contains("Read-only file system"),
        "{out}"
    );
    let mi = parse_mountinfo(sec(&s, "mountinfo"));
    for d in ["/sys/firmware", "/proc/acpi"] {
        let m = mount_at(&mi, d);
        assert_eq!(m.fstype, "tmpfs", "{m:?}");
        assert!(m.opts.contains(&"ro".into()), "{m:?}");
    }
    assert!(
        sec(&s, "sysctl-write").contains("Read-only file system"),
        "{out}"
    );
    assert!(mount_at(&mi, "/proc/sys").opts.contains(&"ro".into()));
    assert!(
        sec(&s, "data-write").contains("Read-only file system"),
        "{out}"
    );
    assert_eq!(sec(&s, "data-read"), "kept");
    // Only the listed paths: the rest of the rootfs stays writable.
    assert_eq!(sec(&s, "root-write"), "ok");
    t.assert_clean(&t.id);
}

#[test]
fn default_and_config_devices_exist_with_their_numbers_and_modes() {
    let Some(t) = TestEnv::new("devices") else {
        return;
    };
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "echo '## nodes'; for d in null zero full tty random urandom mydev; do stat -c '%n %F %t:%T %a %u:%g' /dev/$d; done
         echo '## links'; for l in ptmx fd stdin stdout stderr; do echo $l $(readlink /dev/$l); done
         echo '## null'; echo gone > /dev/null && wc -c < /dev/null
         echo '## zero'; head -c 4 /dev/zero | od -An -tx1
         echo '## urandom'; head -c 16 /dev/urandom | wc -c
         echo '## mydev-read'; head -c 3 /dev/mydev | od -An -tx1
         echo '## mydev-write'; (echo x > /dev/mydev) 2>&1 || echo refused",
    ]);
    b.edit(|c| {
        // Not root, and without CAP_DAC_OVERRIDE: opening the 0600 node
        // works only because it is ours.
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["linux"]["devices"] = json!([{"path": "/dev/mydev", "type": "c", "major": 1,
            "minor": 7, "fileMode": 384, "uid": 1000, "gid": 1001}]);
    });
    let out = probe(&t, &b);
    let s = sections(&out);
    let nodes: Vec<&str> = sec(&s, "nodes").lines().collect();
    assert_eq!(
        nodes,
        [
            "/dev/null character special file 1:3 666 0:0",
            "/dev/zero character special file 1:5 666 0:0",
            "/dev/full character special file 1:7 666 0:0",
            "/dev/tty character special file 5:0 666 0:0",
            "/dev/random character special file 1:8 666 0:0",
            "/dev/urandom character special file 1:9 666 0:0",
            "/dev/mydev character special file 1:7 600 1000:1001",
        ]
    );
    let links: Vec<&str> = sec(&s, "links").lines().collect();
    assert_eq!(
        links,
        [
            "ptmx pts/ptmx",
            "fd /proc/self/fd",
            "stdin /proc/self/fd/0",
            "stdout /proc/self/fd/1",
            "stderr /proc/self/fd/2",
        ]
    );
    assert_eq!(sec(&s, "null"), "0");
    assert_eq!(sec(&s, "zero"), "00 00 00 00");
    assert_eq!(sec(&s, "urandom"), "16");
    // /dev/mydev really is the "full" device: reads zeros, writes fail.
    assert_eq!(sec(&s, "mydev-read"), "00 00 00", "{out}");
    let w = sec(&s, "mydev-write");
    assert!(w.contains("No space left on device"), "{out}");
    t.assert_clean(&t.id);
}

#[test]
fn namespaced_sysctls_are_set_inside_only() {
    let Some(t) = TestEnv::new("sysctl") else {
        return;
    };
    let read = |p: &str| fs::read_to_string(p).unwrap().trim().to_string();
    let host_port = read("/proc/sys/net/ipv4/ip_unprivileged_port_start");
    let host_msgmax = read("/proc/sys/kernel/msgmax");
    let host_domain = read("/proc/sys/kernel/domainname");
    assert_ne!(host_port, "0");
    assert_ne!(host_msgmax, "4096");
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "for k in net/ipv4/ip_unprivileged_port_start kernel/msgmax kernel/domainname; do echo \"## $k\"; cat /proc/sys/$k; done",
    ]);
    b.edit(|c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_unprivileged_port_start": "0",
            "kernel.msgmax": "4096", "kernel.domainname": "sysctl.example"});
    });
    let s = sections(&probe(&t, &b));
    assert_eq!(sec(&s, "net/ipv4/ip_unprivileged_port_start"), "0");
    assert_eq!(sec(&s, "kernel/msgmax"), "4096");
    assert_eq!(sec(&s, "kernel/domainname"), "sysctl.example");
    assert_eq!(
        read("/proc/sys/net/ipv4/ip_unprivileged_port_start"),
        host_port
    );
    assert_eq!(read("/proc/sys/kernel/msgmax"), host_msgmax);
    assert_eq!(read("/proc/sys/kernel/domainname"), host_domain);
    t.assert_clean(&t.id);

    // A sysctl of no namespace would change the host: refused.
    let id = t.new_id("host");
    let mut b = t.bundle_named(&id, &["true"]);
    b.edit(|c| c["linux"]["sysctl"] = json!({"vm.swappiness": "1"}));
    t.run(&b).fails_with("not namespaced");
    t.assert_clean(&id);
}

#[test]
fn oom_score_adj_is_set() {
    let Some(t) = TestEnv::new("oom") else { return };
    let mut b = t.bundle(&["cat", "/proc/self/oom_score_adj"]);
    b.edit(|c| c["process"]["oomScoreAdj"] = json!(500));
    assert_eq!(probe(&t, &b).trim(), "500");
    t.assert_clean(&t.id);
}

#[test]
fn no_new_privileges_follows_the_config() {
    let Some(t) = TestEnv::new("nnp") else { return };
    for (suffix, nnp, want) in [("on", true, "1"), ("off", false, "0")] {
        let id = t.new_id(suffix);
        let mut b = t.bundle_named(&id, &["grep", "^NoNewPrivs", "/proc/self/status"]);
        b.edit(|c| c["process"]["noNewPrivileges"] = json!(nnp));
        let out = probe(&t, &b);
        assert_eq!(
            status_field(&out, "NoNewPrivs"),
            want,
            "noNewPrivileges {nnp}"
        );
        t.assert_clean(&id);
    }
}

#[test]
fn seccomp_rules_deny_with_their_errno() {
    let Some(t) = TestEnv::new("seccomp") else {
        return;
    };
    let script = "echo '## status'; grep ^Seccomp: /proc/self/status
         echo '## mkdir'; mkdir /tmp/x 2>&1 || echo failed
         echo '## touch'; touch /tmp/y && echo ok";
    // Both moments of loading: with no_new_privs (last, unprivileged) and
    // without it (before the capabilities are dropped).
    for (suffix, nnp) in [("nnp", true), ("privileged", false)] {
        let id = t.new_id(suffix);
        let mut b = t.bundle_named(&id, &["sh", "-c", script]);
        b.edit(|c| {
            c["process"]["noNewPrivileges"] = json!(nnp);
            c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                    "errnoRet": 1}]});
        });
        let out = probe(&t, &b);
        let s = sections(&out);
        assert_eq!(status_field(sec(&s, "status"), "Seccomp"), "2", "{out}");
        assert!(
            sec(&s, "mkdir").contains("Operation not permitted"),
            "{suffix}: {out}"
        );
        assert_eq!(sec(&s, "touch"), "ok");
        assert!(!b.rootfs().join("tmp/x").exists());
        t.assert_clean(&id);
    }
}

/// Enough of x86_64 for busybox sh, mkdir, touch and grep, and for the
/// init's last steps before execve.
const ALLOWED: &[&str] = &[
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "open",
    "openat",
    "close",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "lseek",
    "mmap",
    "mprotect",
    "munmap",
    "mremap",
    "madvise",
    "brk",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigsuspend",
    "sigaltstack",
    "ioctl",
    "access",
    "faccessat",
    "faccessat2",
    "pipe",
    "pipe2",
    "select",
    "pselect6",
    "poll",
    "ppoll",
    "dup",
    "dup2",
    "dup3",
    "nanosleep",
    "clock_nanosleep",
    "getpid",
    "getppid",
    "gettid",
    "clone",
    "clone3",
    "fork",
    "vfork",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "wait4",
    "waitid",
    "kill",
    "tgkill",
    "uname",
    "fcntl",
    "getcwd",
    "chdir",
    "fchdir",
    "readlink",
    "readlinkat",
    "getdents64",
    "umask",
    "gettimeofday",
    "getrlimit",
    "prlimit64",
    "getuid",
    "getgid",
    "geteuid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "setpgid",
    "getpgrp",
    "getpgid",
    "getsid",
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "rseq",
    "futex",
    "clock_gettime",
    "getrandom",
    "prctl",
    "utimensat",
    "chmod",
    "fchmod",
    "fchmodat",
    "chown",
    "fchown",
    "fchownat",
    "lchown",
    "unlink",
    "unlinkat",
    "sysinfo",
    "times",
    "getrusage",
    "statfs",
    "fstatfs",
];

#[test]
fn seccomp_default_errno_ret_applies_to_the_default_action() {
    let Some(t) = TestEnv::new("seccomp-default") else {
        return;
    };
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "echo '## mkdir'; mkdir /tmp/x 2>&1 || echo failed
         echo '## rmdir'; rmdir /tmp 2>&1 || echo failed
         echo '## touch'; touch /tmp/y && echo ok",
    ]);
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"names": ALLOWED, "action": "SCMP_ACT_ALLOW"},
            // A rule without errnoRet means EPERM, not defaultErrnoRet.
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"},
        ]});
    });
    let out = probe(&t, &b);
    let s = sections(&out);
    // mkdir is in no rule: the default action with defaultErrnoRet (ENOSYS).
    assert!(
        sec(&s, "mkdir").contains("Function not implemented"),
        "{out}"
    );
    assert!(
        sec(&s, "rmdir").contains("Operation not permitted"),
        "{out}"
    );
    assert_eq!(sec(&s, "touch"), "ok");
    t.assert_clean(&t.id);
}

#[test]
fn readonly_root_refuses_writes() {
    let Some(t) = TestEnv::new("rootro") else {
        return;
    };
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "echo '## root'; touch /x 2>&1 || echo failed
         echo '## tmp'; touch /tmp/x 2>&1 || echo failed
         echo '## shm'; touch /dev/shm/x && echo ok
         echo '## mountinfo'; cat /proc/self/mountinfo",
    ]);
    b.edit(|c| c["root"]["readonly"] = json!(true));
    let out = probe(&t, &b);
    let s = sections(&out);
    assert!(sec(&s, "root").contains("Read-only file system"), "{out}");
    assert!(sec(&s, "tmp").contains("Read-only file system"), "{out}");
    // Mounts on top of the root keep their own flags.
    assert_eq!(sec(&s, "shm"), "ok");
    let mi = parse_mountinfo(sec(&s, "mountinfo"));
    assert!(mount_at(&mi, "/").opts.contains(&"ro".into()));
    assert!(!b.rootfs().join("x").exists());
    t.assert_clean(&t.id);
}

#[test]
fn tmpcopyup_fills_a_new_tmpfs_with_the_old_contents() {
    // podman mounts /tmp, /run, /var/tmp this way in --read-only containers.
    let Some(t) = TestEnv::new("copyup") else {
        return;
    };
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "echo '## files'; cat /data/a /data/sub/b; readlink /data/link; stat -c '%a %u:%g' /data/sub
         echo '## write'; touch /data/new && echo ok
         echo '## fs'; grep ' /data ' /proc/self/mountinfo | grep -o tmpfs | head -1",
    ]);
    let data = b.rootfs().join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("a"), "alpha\n").unwrap();
    std::fs::write(data.join("sub/b"), "beta\n").unwrap();
    std::os::unix::fs::symlink("a", data.join("link")).unwrap();
    std::fs::set_permissions(
        data.join("sub"),
        std::os::unix::fs::PermissionsExt::from_mode(0o705),
    )
    .unwrap();
    std::os::unix::fs::chown(data.join("sub"), Some(1000), Some(1001)).unwrap();
    b.edit(|c| {
        c["root"]["readonly"] = json!(true);
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/data", "type": "tmpfs", "source": "tmpfs",
            "options": ["tmpcopyup", "nosuid", "nodev", "size=1m"]
        }));
    });
    let out = probe(&t, &b);
    let s = sections(&out);
    assert_eq!(sec(&s, "files"), "alpha\nbeta\na\n705 1000:1001", "{out}");
    assert_eq!(sec(&s, "write"), "ok", "{out}");
    assert_eq!(sec(&s, "fs"), "tmpfs", "{out}");
    // The copy went to the tmpfs: the image's directory is untouched.
    assert!(!data.join("new").exists());
    t.assert_clean(&t.id);
}

#[test]
fn hooks_run_in_order_with_the_state_on_stdin() {
    let Some(t) = TestEnv::new("hooks") else {
        return;
    };
    // One log, seen by every hook: on the host at `logdir`, and bind-mounted
    // at /hooks in the container for startContainer, which runs after
    // pivot_root and so sees only the container's files.
    let logdir = t.dir.join("hooklog");
    fs::create_dir_all(&logdir).unwrap();
    let log = logdir.join("log");
    let host_hook = |name: &str| {
        json!({"path": "/bin/sh", "env": ["PATH=/usr/bin:/bin"],
            "args": ["sh", "-c", format!("echo \"{name} $(cat)\" >> {}", log.display())]})
    };
    let mut b = t.bundle(&["true"]);
    let logdir_s = logdir.to_str().unwrap().to_string();
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/hooks", "type": "bind", "source": logdir_s,
                "options": ["bind"]}),
        );
        c["hooks"] = json!({
            "prestart": [host_hook("prestart")],
            "createRuntime": [host_hook("createRuntime")],
            // Before pivot_root: the host's /bin/sh and the log's host path.
            "createContainer": [host_hook("createContainer")],
            // After pivot_root: busybox's sh, the log through the bind.
            "startContainer": [{"path": "/bin/sh", "env": ["PATH=/bin"],
                "args": ["sh", "-c", "echo \"startContainer $(cat)\" >> /hooks/log"]}],
            "poststart": [host_hook("poststart")],
            "poststop": [host_hook("poststop")],
        });
    });
    probe(&t, &b);
    let text = fs::read_to_string(&log).unwrap();
    let entries: Vec<(&str, Value)> = text
        .lines()
        .map(|l| {
            let (name, json) = l.split_once(' ').unwrap();
            (
                name,
                serde_json::from_str(json).unwrap_or_else(|e| panic!("{l}: {e}")),
            )
        })
        .collect();
    let names: Vec<&str> = entries.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ]
    );
    let pid = entries[0].1["pid"].as_i64().unwrap();
    assert!(pid > 0);
    for (name, st) in &entries {
        let want = match *name {
            "prestart" | "createRuntime" | "createContainer" => "creating",
            "startContainer" => "created",
            "poststart" => "running",
            _ => "stopped",
        };
        assert_eq!(st["status"], want, "{name}: {st}");
        assert_eq!(st["id"], t.id.as_str(), "{name}: {st}");
        assert_eq!(st["bundle"], b.path_str(), "{name}: {st}");
        assert!(st["ociVersion"].is_string(), "{name}: {st}");
        // The host pid of the container process, the same for every hook
        // while there is a process.
        if *name != "poststop" {
            assert_eq!(st["pid"].as_i64(), Some(pid), "{name}: {st}");
        }
    }
    t.assert_clean(&t.id);
}

/// Accepts one connection on the console socket and receives the pty
/// master with its name. A `create` that exits without connecting fails
/// the test (with its output `out`) instead of leaving it waiting forever.
fn receive_pty(
    listener: &UnixListener,
    create: &mut std::process::Child,
    out: &Path,
) -> (OwnedFd, String) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    listener.set_nonblocking(true).unwrap();
    let conn = loop {
        let exited = create.try_wait().unwrap();
        match listener.accept() {
            Ok((conn, _)) => break conn,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => match exited {
                Some(st) => panic!(
                    "create exited ({st}) without sending a pty: {}",
                    fs::read_to_string(out).unwrap_or_default()
                ),
                None => std::thread::sleep(std::time::Duration::from_millis(20)),
            },
            Err(e) => panic!("accept on the console socket: {e}"),
        }
    };
    conn.set_nonblocking(false).unwrap();
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .unwrap();
    let mut master = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel just installed these fds in our table; we own them.
            master = fds.first().map(|&fd| unsafe { OwnedFd::from_raw_fd(fd) });
        }
    }
    let n = msg.bytes;
    let name = String::from_utf8_lossy(&buf[..n]).into_owned();
    (master.expect("an fd in the message"), name)
}

#[test]
fn terminal_is_a_pty_sent_over_the_console_socket() {
    let Some(t) = TestEnv::new("tty") else { return };
    let sock = t.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let mut b = t.bundle(&["sh", "-c", "tty; stat -c %t:%T /dev/console"]);
    b.edit(|c| c["process"]["terminal"] = json!(true));
    let out = fs::File::create(t.dir.join("create.out")).unwrap();
    let mut create = t
        .cmd(&[
            "create",
            "--console-socket",
            sock.to_str().unwrap(),
            "--bundle",
            b.path_str(),
            &t.id,
        ])
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap();
    let (master, name) = receive_pty(&listener, &mut create, &t.dir.join("create.out"));
    let st = create.wait().unwrap();
    assert!(
        st.success(),
        "create failed: {}",
        fs::read_to_string(t.dir.join("create.out")).unwrap()
    );
    assert_eq!(name, "/dev/pts/0");
    // The master is a ptmx (char 5:2) of the container's own devpts.
    let st = nix::sys::stat::fstat(&master).unwrap();
    let rdev = st.st_rdev;
    assert_eq!(
        (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev)),
        (5, 2)
    );

    t.husk(&["start", &t.id]).success();
    // Read until the slave side closes (EIO once the container exits).
    let mut f = fs::File::from(master);
    let mut text = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    // stdin is the pty (`tty` would say "not a tty"), and /dev/console is
    // the same pty (char 136:0, unix98 pty slave 0).
    assert_eq!(lines, ["/dev/pts/0", "88:0"], "{text:?}");
    t.wait_status(&t.id, "stopped");
    t.husk(&["delete", &t.id]).success();
    t.assert_clean(&t.id);
}
