//! Security regressions: one test per attack class of DESIGN.md §6. Each
//! builds a hostile bundle (or a hostile neighbour), runs husk against it,
//! and asserts both that the attack failed and that the host is unchanged.
//!
//! Every hostile symlink aims at a file or directory this test owns under
//! its temp dir, never at a host-wide setting: were husk vulnerable, the
//! damage would stay inside the test's own scratch space.

mod common;

use std::collections::HashMap;
use std::fs;
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Bundle, Run, TestEnv};
use serde_json::{json, Value};

// ---------------------------------------------------------------- helpers

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

#[track_caller]
fn sec<'a>(s: &'a HashMap<String, String>, name: &str) -> &'a str {
    s.get(name)
        .unwrap_or_else(|| panic!("no section {name:?} in {s:#?}"))
        .trim()
}

/// The names in a directory, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every path under `dir` with its content (files) or link target, for
/// "unchanged" comparisons of a host tree.
fn snapshot(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    fn walk(d: &Path, out: &mut Vec<(PathBuf, String)>) {
        let mut list: Vec<_> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        list.sort();
        for p in list {
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                out.push((p.clone(), "<dir>".into()));
                walk(&p, out);
            } else if m.file_type().is_symlink() {
                out.push((
                    p.clone(),
                    format!("-> {}", fs::read_link(&p).unwrap().display()),
                ));
            } else if m.is_file() {
                out.push((p.clone(), fs::read_to_string(&p).unwrap_or_default()));
            } else {
                out.push((p.clone(), format!("<special {:o} {}>", m.mode(), m.rdev())));
            }
        }
    }
    walk(dir, &mut out);
    out
}

/// `p` as a path inside `rootfs` (where in-root resolution puts a host path).
fn in_root(rootfs: &Path, p: &Path) -> PathBuf {
    rootfs.join(p.strip_prefix("/").unwrap())
}

/// Host mounts whose mount point is `p` or below it.
fn host_mounts_under(p: &Path) -> Vec<String> {
    let needle = p.to_str().unwrap();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(needle)))
        .map(str::to_string)
        .collect()
}

/// Drops the config's /dev tmpfs (and, with `devpts`, its devpts too) so
/// the rootfs's own /dev is what the container gets.
fn without_dev_mounts(c: &mut Value, devpts: bool) {
    c["mounts"].as_array_mut().unwrap().retain(|m| {
        let d = m["destination"].as_str().unwrap_or("");
        d != "/dev" && !(devpts && d == "/dev/pts")
    });
}

fn push_mount(c: &mut Value, m: Value) {
    c["mounts"].as_array_mut().unwrap().push(m);
}

fn push_list(c: &mut Value, key: &str, p: &str) {
    c["linux"][key].as_array_mut().unwrap().push(json!(p));
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Runs husk with `fds` (our fd, number in husk) installed without
/// CLOEXEC, as a careless engine would leak them, and no --preserve-fds.
fn husk_with_fds(t: &TestEnv, args: &[&str], fds: &[(RawFd, RawFd)]) -> Run {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let out = t.dir.join(format!(".fds-out-{n}"));
    let err = t.dir.join(format!(".fds-err-{n}"));
    let mut cmd = t.cmd(args);
    cmd.stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap());
    let fds = fds.to_vec();
    // SAFETY: between fork and exec the closure calls only dup2, which is
    // async-signal-safe, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            for &(from, to) in &fds {
                if libc::dup2(from, to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let status = cmd.status().expect("run husk");
    let r = Run {
        code: status.code().unwrap_or(128),
        stdout: fs::read_to_string(&out).unwrap_or_default(),
        stderr: fs::read_to_string(&err).unwrap_or_default(),
    };
    let _ = fs::remove_file(out);
    let _ = fs::remove_file(err);
    r
}

fn open_dir(p: &Path) -> OwnedFd {
    fs::File::open(p).unwrap().into()
}

// ------------------------------------------------- 1. fd leak, cwd escape

/// CVE-2024-21626: a host fd that reaches the container (or a working
/// directory outside its root) lets the process walk the host filesystem.
/// husk gets fds 7 (a host directory) and 9 (a host file) from its caller
/// without --preserve-fds: neither may reach the container process.
#[test]
fn inherited_fds_and_hostile_cwd_never_reach_the_container() {
    let Some(t) = TestEnv::new("fdleak") else {
        return;
    };
    let hostdir = t.dir.join("hostdir");
    fs::create_dir_all(&hostdir).unwrap();
    fs::write(hostdir.join("host-only-marker"), "host\n").unwrap();
    let hostfile = t.dir.join("hostfile");
    fs::write(&hostfile, "HOST-SECRET\n").unwrap();
    let dirfd = open_dir(&hostdir);
    let filefd: OwnedFd = fs::File::open(&hostfile).unwrap().into();
    let fds = [(dirfd.as_raw_fd(), 7), (filefd.as_raw_fd(), 9)];

    let mut b = t.bundle(&[
        "sh",
        "-c",
        "echo '## fds'; ls /proc/self/fd
         echo '## links'; ls -l /proc/self/fd
         echo '## fd7'; ls /proc/self/fd/7/ 2>&1 || echo none
         echo '## cwd'; readlink /proc/self/cwd
         echo '## up'; ls -a ..
         echo '## upup'; ls -a ../../../..",
    ]);
    fs::write(b.rootfs().join("rootfs-marker"), "").unwrap();
    b.edit(|c| c["process"]["cwd"] = json!("/work"));
    let r = husk_with_fds(&t, &["run", "--bundle", b.path_str(), &b.id], &fds);
    assert_eq!(r.code, 0, "{r:?}");
    let s = sections(&r.stdout);
    // 0, 1, 2 and the directory ls itself opened (3): nothing else.
    let fdlist: Vec<&str> = sec(&s, "fds").split_whitespace().collect();
    assert_eq!(fdlist, ["0", "1", "2", "3"], "{}", r.stdout);
    assert!(!sec(&s, "links").contains(hostdir.to_str().unwrap()));
    assert!(!sec(&s, "links").contains(hostfile.to_str().unwrap()));
    assert!(!sec(&s, "fd7").contains("host-only-marker"), "{}", r.stdout);
    assert_eq!(sec(&s, "cwd"), "/work");
    for up in ["up", "upup"] {
        let list = sec(&s, up);
        assert!(list.contains("rootfs-marker"), "{up}: {list}");
        assert!(!list.contains("host-only-marker"), "{up}: {list}");
        assert!(!list.split_whitespace().any(|n| n == "usr"), "{up}: {list}");
    }
    t.assert_clean(&b.id);

    // Hostile working directories: through /proc's magic links to the
    // leaked fd, to the process's own cwd, or up past the root. Each
    // either fails cleanly or lands inside the rootfs.
    for (i, cwd) in [
        "/proc/self/fd/7",
        "/proc/self/fd/7/..",
        "/proc/self/cwd",
        "/proc/1/root/..",
        "/../../../..",
    ]
    .into_iter()
    .enumerate()
    {
        let id = t.new_id(&format!("cwd{i}"));
        let mut b = t.bundle_named(&id, &["sh", "-c", "readlink /proc/self/cwd; ls -a ."]);
        fs::write(b.rootfs().join("rootfs-marker"), "").unwrap();
        b.edit(|c| c["process"]["cwd"] = json!(cwd));
        let r = husk_with_fds(&t, &["run", "--bundle", b.path_str(), &id], &fds);
        if r.code == 0 {
            let cwd_seen = r.stdout.lines().next().unwrap_or("");
            assert!(
                !cwd_seen.contains(t.dir.to_str().unwrap()),
                "cwd {cwd:?} escaped: {r:?}"
            );
            assert!(!r.stdout.contains("host-only-marker"), "cwd {cwd:?}: {r:?}");
        } else {
            assert!(!r.stderr.is_empty(), "cwd {cwd:?}: silent failure");
            assert!(
                r.stderr.contains(&format!("working directory {cwd:?}")),
                "cwd {cwd:?}: {}",
                r.stderr
            );
        }
        t.assert_clean(&id);
    }
    assert_eq!(entries(&hostdir), ["host-only-marker"]);
}

/// CVE-2016-9962 and CVE-2024-21626, the window before exec: while a
/// container sits in `created`, its init holds fds the user process will
/// never see (the leaked ones, and the init's own handle on the host's
/// /proc). A neighbour sharing its pid namespace (a pod) must not reach
/// them through /proc/<pid>/fd, /proc/<pid>/cwd or /proc/<pid>/root: the
/// init is not dumpable until it execs.
#[test]
fn a_created_init_is_out_of_reach_of_its_pid_namespace_neighbours() {
    let Some(t) = TestEnv::new("neighbour") else {
        return;
    };
    let hostdir = t.dir.join("hostdir");
    fs::create_dir_all(&hostdir).unwrap();
    fs::write(hostdir.join("host-only-marker"), "host\n").unwrap();
    let hostfile = t.dir.join("hostfile");
    fs::write(&hostfile, "HOST-SECRET\n").unwrap();
    let before = snapshot(&t.dir.join("hostdir"));
    let test_pid = std::process::id();

    // The attacker: scans every process's fds, cwd, root and exe for a way
    // out until /stop appears. A host /proc shows the test's own pid; the
    // host's husk binary (CVE-2019-5736) is the victim's exe until execve.
    let attacker = t.new_id("attacker");
    let script = format!(
        "while [ ! -e /stop ]; do
           for p in /proc/[0-9]*; do
             [ \"$p\" = /proc/$$ ] && continue
             grep -q husk $p/comm 2>/dev/null && echo SEEN >> /report
             [ \"$(readlink $p/exe 2>/dev/null)\" = {husk} ] && echo \"LEAK host-exe $p\" >> /report
             for f in $p/fd/* $p/cwd $p/root; do
               [ -d \"$f/{test_pid}\" ] && echo \"LEAK host-proc $f\" >> /report
               [ -e \"$f/host-only-marker\" ] && echo \"LEAK host-dir $f\" >> /report
               [ -f \"$f\" ] && head -c 64 \"$f\" 2>/dev/null | grep -q HOST-SECRET && echo \"LEAK host-file $f\" >> /report
             done
           done
           sleep 0.05
         done",
        husk = common::husk_bin().display()
    );
    let mut a = t.bundle_named(&attacker, &["sh", "-c", &script]);
    a.edit(|c| {
        // Root of the pid namespace, but with the caps of an ordinary
        // container (same as the victim's).
        c["process"]["noNewPrivileges"] = json!(true);
    });
    t.husk(&["run", "-d", "--bundle", a.path_str(), &attacker])
        .success();
    let apid = t.state(&attacker)["pid"].as_i64().unwrap();

    // The victim joins the attacker's pid namespace and gets leaked fds.
    let victim = t.new_id("victim");
    let mut v = t.bundle_named(&victim, &["true"]);
    v.edit(|c| {
        for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "pid" {
                ns["path"] = json!(format!("/proc/{apid}/ns/pid"));
            }
        }
    });
    let dirfd = open_dir(&hostdir);
    let filefd: OwnedFd = fs::File::open(&hostfile).unwrap().into();
    let r = husk_with_fds(
        &t,
        &["create", "--bundle", v.path_str(), &victim],
        &[(dirfd.as_raw_fd(), 7), (filefd.as_raw_fd(), 9)],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(t.status(&victim), "created");
    // Give the attacker time to see the created init (and to try).
    let report = a.rootfs().join("report");
    let seen = common::eventually(10, || {
        fs::read_to_string(&report).is_ok_and(|r| r.contains("SEEN"))
    });
    std::thread::sleep(Duration::from_millis(500));
    fs::write(a.rootfs().join("stop"), "").unwrap();
    t.wait_status(&attacker, "stopped");
    let text = fs::read_to_string(&report).unwrap_or_default();
    assert!(seen, "the attacker never saw the victim's init: {text}");
    assert!(!text.contains("LEAK"), "{text}");
    assert_eq!(snapshot(&hostdir), before);

    t.husk(&["delete", "--force", &victim]).success();
    t.husk(&["delete", "--force", &attacker]).success();
    t.assert_clean(&victim);
    t.assert_clean(&attacker);
}

// --------------------------------------- 2. symlinked mount destinations

/// CVE-2021-30465 kin: mount destinations through symlinks in the image
/// (absolute ones, and relative ones climbing with ../..) are resolved
/// inside the rootfs; the host paths they name stay untouched.
#[test]
fn mount_destinations_through_symlinks_stay_in_the_rootfs() {
    let Some(t) = TestEnv::new("mntlink") else {
        return;
    };
    let hostetc = t.dir.join("hostetc");
    let hostrel = t.dir.join("hostrel");
    let volume = t.dir.join("volume");
    for d in [&hostetc, &hostrel, &volume] {
        fs::create_dir_all(d).unwrap();
    }
    fs::write(volume.join("marker"), "volume\n").unwrap();
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "echo '## mountinfo'; cat /proc/self/mountinfo
         echo '## bar'; cat /etc/bar/marker
         echo '## foo'; echo hi > /etc/foo/new && cat /etc/foo/new
         echo '## rel'; cat /rel/sub/marker",
    ]);
    let rootfs = b.rootfs();
    fs::remove_dir_all(rootfs.join("etc")).unwrap();
    symlink(&hostetc, rootfs.join("etc")).unwrap();
    let climb = format!(
        "{}{}",
        "../".repeat(16),
        hostrel.strip_prefix("/").unwrap().display()
    );
    symlink(&climb, rootfs.join("rel")).unwrap();
    let vol = volume.to_str().unwrap().to_string();
    b.edit(|c| {
        push_mount(
            c,
            json!({"destination": "/etc/foo", "type": "tmpfs", "source": "tmpfs",
                "options": ["size=64k"]}),
        );
        push_mount(
            c,
            json!({"destination": "/etc/bar", "type": "bind", "source": vol,
                "options": ["bind"]}),
        );
        push_mount(
            c,
            json!({"destination": "/rel/sub", "type": "bind", "source": vol,
                "options": ["rbind", "ro"]}),
        );
    });
    let out = probe(&t, &b);
    let s = sections(&out);
    assert_eq!(sec(&s, "bar"), "volume");
    assert_eq!(sec(&s, "foo"), "hi");
    assert_eq!(sec(&s, "rel"), "volume");
    // Inside, the mounts sit where the links lead within the rootfs.
    let mi = sec(&s, "mountinfo");
    let at = |p: PathBuf| {
        let p = p.to_str().unwrap().to_string();
        mi.lines().any(|l| l.split(' ').nth(4) == Some(p.as_str()))
    };
    assert!(at(hostetc.join("foo")), "{mi}");
    assert!(at(hostetc.join("bar")), "{mi}");
    assert!(at(hostrel.join("sub")), "{mi}");
    // The host directories the links name were never touched ...
    assert!(entries(&hostetc).is_empty(), "{:?}", entries(&hostetc));
    assert!(entries(&hostrel).is_empty(), "{:?}", entries(&hostrel));
    assert_eq!(entries(&volume), ["marker"]);
    assert!(host_mounts_under(&t.dir).is_empty());
    // ... the mount points were made inside the rootfs instead.
    assert!(in_root(&rootfs, &hostetc).join("foo").is_dir());
    assert!(in_root(&rootfs, &hostetc).join("bar").is_dir());
    assert!(in_root(&rootfs, &hostrel).join("sub").is_dir());
    t.assert_clean(&b.id);
}

// ------------------------------------ 3. symlink swapped during create

/// Detaches or removes nothing: stops and joins the swapper thread on drop.
struct Swapper {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<usize>>,
}

impl Swapper {
    /// Exchanges `a` and `b` (atomically, renameat2 RENAME_EXCHANGE) as
    /// fast as it can for at most `limit`.
    fn start(a: PathBuf, b: PathBuf, limit: Duration) -> Swapper {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut n = 0;
            while !flag.load(Ordering::Relaxed) && t0.elapsed() < limit {
                nix::fcntl::renameat2(
                    nix::fcntl::AT_FDCWD,
                    &a,
                    nix::fcntl::AT_FDCWD,
                    &b,
                    nix::fcntl::RenameFlags::RENAME_EXCHANGE,
                )
                .expect("exchange");
                n += 1;
            }
            n
        });
        Swapper {
            stop,
            handle: Some(handle),
        }
    }

    fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap()
    }
}

impl Drop for Swapper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// CVE-2021-30465: the image (or a neighbour sharing its volume) swaps a
/// mount destination between a real directory and a symlink while husk
/// sets up mounts. The read-only bind must land inside the rootfs or fail
/// cleanly: never on the host directory the link names, and never lose
/// its read-only flag to another mount the link leads to (the rootfs's
/// own root, when it points at "/").
#[test]
fn mount_destination_swapped_during_create_stays_in_the_rootfs() {
    let Some(t) = TestEnv::new("swap") else {
        return;
    };
    // HUSK_SWAP_SECS lengthens the race for a closer look.
    let secs: u64 = std::env::var("HUSK_SWAP_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let target = t.dir.join("target");
    let volume = t.dir.join("volume");
    fs::create_dir_all(&target).unwrap();
    fs::create_dir_all(&volume).unwrap();
    fs::write(volume.join("marker"), "volume\n").unwrap();
    let log = t.dir.join("escape.log");
    for (case, link) in [("host", target.clone()), ("root", PathBuf::from("/"))] {
        let id = t.new_id(case);
        let mut b = t.bundle_named(
            &id,
            &[
                "sh",
                "-c",
                "cd /mnt 2>/dev/null || exit 0
                 if [ -e marker ]; then echo BOUND; touch written 2>/dev/null && echo WRITABLE; fi; true",
            ],
        );
        let rootfs = b.rootfs();
        fs::create_dir_all(rootfs.join("mnt")).unwrap();
        symlink(&link, rootfs.join("mnt.swap")).unwrap();
        let vol = volume.to_str().unwrap().to_string();
        // Seen from the container's mount namespace before pivot_root: did
        // anything land on the host directory?
        let detector = format!(
            "if [ -e {target}/marker ] || grep -q ' {target} ' /proc/self/mountinfo; then echo ESCAPED >> {log}; fi",
            target = target.display(),
            log = log.display()
        );
        b.edit(|c| {
            push_mount(
                c,
                json!({"destination": "/mnt", "type": "bind", "source": vol,
                    "options": ["bind", "ro"]}),
            );
            c["hooks"] = json!({"createContainer": [{"path": "/bin/sh",
                "args": ["sh", "-c", detector]}]});
        });

        let swapper = Swapper::start(
            rootfs.join("mnt"),
            rootfs.join("mnt.swap"),
            Duration::from_secs(secs * 20),
        );
        let t0 = Instant::now();
        let (mut ok, mut failed, mut bound) = (0, 0, 0);
        // At least three runs even where a run is slow (the emulated v2 lane).
        while t0.elapsed() < Duration::from_secs(secs) || ok + failed < 3 {
            let r = t.run(&b);
            if r.code == 0 {
                ok += 1;
                bound += r.stdout.contains("BOUND") as usize;
                assert!(
                    !r.stdout.contains("WRITABLE"),
                    "{case}: the ro flag was lost: {r:?}"
                );
            } else {
                failed += 1;
                assert!(r.stderr.contains("husk"), "{case}: unclean failure: {r:?}");
            }
            t.assert_clean(&id);
            assert!(
                entries(&target).is_empty(),
                "{case}: host dir got {:?}",
                entries(&target)
            );
            assert!(host_mounts_under(&target).is_empty());
            assert_eq!(entries(&volume), ["marker"], "{case}");
        }
        let swaps = swapper.finish();
        eprintln!(
            "swap race {case}: {ok} runs succeeded ({bound} saw the bind), {failed} failed, {swaps} swaps"
        );
        assert!(ok + failed >= 3, "too few runs to mean anything");
        assert!(swaps > 100, "the swapper barely ran");
    }
    assert!(
        !log.exists(),
        "a mount reached the host directory: {}",
        fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(entries(&target).is_empty());
}

// -------------------------------------- 4. masked paths through symlinks

/// CVE-2021-30465 class: masked and readonly paths are resolved in the
/// rootfs like mount destinations. A path whose parent is a symlink to a
/// host directory masks the in-root file, never the host's, and the
/// in-root file really is masked.
#[test]
fn masked_and_readonly_paths_through_symlinks_stay_in_the_rootfs() {
    let Some(t) = TestEnv::new("masklink") else {
        return;
    };
    let hostdata = t.dir.join("hostdata");
    let hostro = t.dir.join("hostro");
    fs::create_dir_all(hostdata.join("dir")).unwrap();
    fs::create_dir_all(&hostro).unwrap();
    fs::write(hostdata.join("secret"), "host-secret\n").unwrap();
    fs::write(hostdata.join("dir/f"), "host-dir\n").unwrap();
    let before = snapshot(&t.dir.join("hostdata"));

    let mut b = t.bundle(&[
        "sh",
        "-c",
        "echo '## secret'; cat /data/secret
         echo '## node'; stat -L -c '%F %t:%T' /data/secret
         echo '## dir'; ls -A /data/dir
         echo '## ro'; touch /ro/x 2>&1 || echo refused
         echo '## ro-read'; cat /ro/keep",
    ]);
    let rootfs = b.rootfs();
    symlink(&hostdata, rootfs.join("data")).unwrap();
    symlink(&hostro, rootfs.join("ro")).unwrap();
    // What the links lead to inside the rootfs: that must be masked.
    let inner = in_root(&rootfs, &hostdata);
    fs::create_dir_all(inner.join("dir")).unwrap();
    fs::write(inner.join("secret"), "inroot-secret\n").unwrap();
    fs::write(inner.join("dir/f"), "inroot-dir\n").unwrap();
    fs::create_dir_all(in_root(&rootfs, &hostro)).unwrap();
    fs::write(in_root(&rootfs, &hostro).join("keep"), "kept\n").unwrap();
    b.edit(|c| {
        push_list(c, "maskedPaths", "/data/secret");
        push_list(c, "maskedPaths", "/data/dir");
        push_list(c, "readonlyPaths", "/ro");
    });
    let out = probe(&t, &b);
    let s = sections(&out);
    assert_eq!(sec(&s, "secret"), "", "in-root file not masked: {out}");
    assert_eq!(sec(&s, "node"), "character special file 1:3");
    assert_eq!(sec(&s, "dir"), "", "in-root dir not masked: {out}");
    assert!(sec(&s, "ro").contains("Read-only file system"), "{out}");
    assert_eq!(sec(&s, "ro-read"), "kept");
    // The host's files are as they were, with nothing mounted on them.
    assert_eq!(snapshot(&hostdata), before);
    assert!(entries(&hostro).is_empty());
    assert!(host_mounts_under(&t.dir).is_empty());
    assert_eq!(
        fs::read_to_string(inner.join("secret")).unwrap(),
        "inroot-secret\n"
    );
    t.assert_clean(&b.id);
}

// ------------------------------------------------------- 5. fake /dev/null

/// CVE-2025-31133: masked files are hidden by a bind of /dev/null. When
/// the rootfs's own /dev is used (no /dev tmpfs in the config, or a bind
/// the engine chose), its "null" may be a regular file, a symlink to a
/// host file, or another device: husk must bind a real 1:3 device.
#[test]
fn masking_binds_a_real_null_device_whatever_the_image_has() {
    let Some(t) = TestEnv::new("fakenull") else {
        return;
    };
    let hostnull = t.dir.join("hostnull");
    fs::write(&hostnull, "host-null-target\n").unwrap();
    let fakedev = t.dir.join("fakedev");
    fs::create_dir_all(&fakedev).unwrap();
    fs::write(fakedev.join("null"), "fake-null\n").unwrap();

    let script = "echo '## masked'; stat -c '%F %t:%T' /maskme; wc -c < /maskme
         echo '## write'; echo x > /maskme; wc -c < /maskme
         echo '## null'; stat -c '%F %t:%T' /dev/null";
    for case in ["regular", "symlink", "zero", "devbind"] {
        let id = t.new_id(case);
        let mut b = t.bundle_named(&id, &["sh", "-c", script]);
        let dev = b.rootfs().join("dev");
        match case {
            "regular" => fs::write(dev.join("null"), "fake-null\n").unwrap(),
            "symlink" => symlink(&hostnull, dev.join("null")).unwrap(),
            "zero" => nix::sys::stat::mknod(
                &dev.join("null"),
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::from_bits_truncate(0o666),
                nix::sys::stat::makedev(1, 5),
            )
            .unwrap(),
            _ => {}
        }
        fs::write(b.rootfs().join("maskme"), "SECRET\n").unwrap();
        let fakedev_s = fakedev.to_str().unwrap().to_string();
        b.edit(|c| {
            without_dev_mounts(c, false);
            if case == "devbind" {
                // The engine binds a /dev of its own whose null is a file.
                c["mounts"].as_array_mut().unwrap().insert(
                    1,
                    json!({"destination": "/dev", "type": "bind", "source": fakedev_s,
                        "options": ["rbind"]}),
                );
            }
            push_list(c, "maskedPaths", "/maskme");
        });
        let out = probe(&t, &b);
        let s = sections(&out);
        assert_eq!(
            sec(&s, "masked"),
            "character special file 1:3\n0",
            "{case}: {out}"
        );
        assert_eq!(sec(&s, "write"), "0", "{case}: {out}");
        if case != "devbind" {
            // husk made its own node in place of the image's.
            assert_eq!(sec(&s, "null"), "character special file 1:3", "{case}");
        }
        assert_eq!(
            fs::read_to_string(b.rootfs().join("maskme")).unwrap(),
            "SECRET\n"
        );
        assert_eq!(fs::read_to_string(&hostnull).unwrap(), "host-null-target\n");
        assert!(host_mounts_under(&t.dir).is_empty());
        t.assert_clean(&id);
    }
    assert_eq!(
        fs::read_to_string(fakedev.join("null")).unwrap(),
        "fake-null\n"
    );
}

// ------------------------------------------------------- 6. hostile /proc

/// CVE-2025-52881: a bind over /proc (or an image's symlinked /proc) must
/// not redirect husk's own /proc writes (sysctls, oom_score_adj, LSM
/// labels) into files of the attacker's choice. husk writes through a
/// handle on the host's procfs opened before any mount.
#[test]
fn writes_to_proc_ignore_a_fake_proc_mounted_by_the_config() {
    let Some(t) = TestEnv::new("fakeproc") else {
        return;
    };
    let fake = t.dir.join("fakeproc");
    for d in ["sys/kernel", "self", "1", "self/attr"] {
        fs::create_dir_all(fake.join(d)).unwrap();
    }
    for f in [
        "sys/kernel/domainname",
        "sys/kernel/hostname",
        "self/oom_score_adj",
        "1/oom_score_adj",
        "self/attr/exec",
    ] {
        fs::write(fake.join(f), "untouched\n").unwrap();
    }
    let before = snapshot(&fake);
    let mut b = t.bundle(&["sleep", "60"]);
    let fake_s = fake.to_str().unwrap().to_string();
    b.edit(|c| {
        push_mount(
            c,
            json!({"destination": "/proc", "type": "bind", "source": fake_s,
                "options": ["rbind"]}),
        );
        c["linux"]["sysctl"] = json!({"kernel.domainname": "husk-sec.example"});
        c["process"]["oomScoreAdj"] = json!(321);
    });
    t.husk(&["run", "-d", "--bundle", b.path_str(), &b.id])
        .success();
    let pid = t.state(&b.id)["pid"].as_i64().unwrap();
    // The real settings took effect ...
    let adj = fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap();
    assert_eq!(adj.trim(), "321");
    // busybox's nsenter: the v2 lane's VM has no util-linux.
    let out = std::process::Command::new(common::bundle::busybox())
        .arg("nsenter")
        .arg(format!("--uts=/proc/{pid}/ns/uts"))
        .args(["cat", "/proc/sys/kernel/domainname"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "husk-sec.example"
    );
    // ... and the fake files were never written.
    assert_eq!(snapshot(&fake), before);
    t.husk(&["delete", "--force", &b.id]).success();
    assert_eq!(snapshot(&fake), before);
    t.assert_clean(&b.id);

    // procfs and sysfs are never mounted on a symlink in the image, where
    // they could be moved out from under maskedPaths (CVE-2019-16884).
    let hostproc = t.dir.join("hostproc");
    fs::create_dir_all(&hostproc).unwrap();
    for (case, dir, target) in [
        ("proc-abs", "proc", hostproc.clone()),
        ("proc-rel", "proc", PathBuf::from("tmp")),
        ("sys-rel", "sys", PathBuf::from("../../tmp")),
    ] {
        let id = t.new_id(case);
        let b = t.bundle_named(&id, &["true"]);
        fs::remove_dir(b.rootfs().join(dir)).unwrap();
        symlink(&target, b.rootfs().join(dir)).unwrap();
        t.run(&b).fails_with("symlink");
        assert!(entries(&hostproc).is_empty());
        assert!(entries(&b.rootfs().join("tmp")).is_empty(), "{case}");
        t.assert_clean(&id);
    }
}

// ---------------------------------------------------- 7. console symlinks

/// Accepts one connection on the console socket and receives the pty
/// master with its name.
fn receive_pty(listener: &UnixListener) -> (OwnedFd, String) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
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

/// CVE-2025-52565: the /dev/console bind and the devpts the pty comes
/// from, when /dev/console, /dev/pts and /dev/ptmx of the image point at
/// host paths.
/// The pty must come from the container's own devpts, be bound on the
/// in-root console, and leave the host files alone; a ptmx that is not on
/// a devpts is refused.
#[test]
fn console_and_pts_through_symlinks_stay_in_the_rootfs() {
    let Some(t) = TestEnv::new("console") else {
        return;
    };
    let hostconsole = t.dir.join("hostconsole");
    let hostptmx = t.dir.join("hostptmx");
    let hostpts = t.dir.join("hostpts");
    fs::write(&hostconsole, "host-console\n").unwrap();
    fs::write(&hostptmx, "host-ptmx\n").unwrap();
    fs::create_dir_all(&hostpts).unwrap();
    let sock = t.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();

    let mut b = t.bundle(&["sh", "-c", "tty; stat -L -c %t:%T /dev/console"]);
    let dev = b.rootfs().join("dev");
    symlink(&hostconsole, dev.join("console")).unwrap();
    symlink(&hostptmx, dev.join("ptmx")).unwrap();
    symlink(&hostpts, dev.join("pts")).unwrap();
    b.edit(|c| {
        without_dev_mounts(c, false);
        c["process"]["terminal"] = json!(true);
    });
    let out = fs::File::create(t.dir.join("create.out")).unwrap();
    let mut create = t
        .cmd(&[
            "create",
            "--console-socket",
            sock.to_str().unwrap(),
            "--bundle",
            b.path_str(),
            &b.id,
        ])
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap();
    let (master, name) = receive_pty(&listener);
    let st = create.wait().unwrap();
    assert!(
        st.success(),
        "create failed: {}",
        fs::read_to_string(t.dir.join("create.out")).unwrap()
    );
    assert_eq!(name, "/dev/pts/0");
    // A ptmx (5:2), and not the host's: a devpts instance of its own.
    let m = nix::sys::stat::fstat(&master).unwrap();
    assert_eq!(
        (
            nix::sys::stat::major(m.st_rdev),
            nix::sys::stat::minor(m.st_rdev)
        ),
        (5, 2)
    );
    let fs_type = nix::sys::statfs::fstatfs(master.as_fd())
        .unwrap()
        .filesystem_type();
    assert_eq!(fs_type.0 as i64, 0x1cd1, "master not on a devpts");
    let host_ptmx = fs::metadata("/dev/pts/ptmx").unwrap();
    assert_ne!(m.st_dev, host_ptmx.dev(), "the host's devpts was used");

    t.husk(&["start", &b.id]).success();
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
    // The slave's name is where the image's /dev/pts link leads in the rootfs.
    let in_root_pts = hostpts.join("0");
    assert!(
        lines.len() == 2 && (lines[0] == "/dev/pts/0" || Path::new(lines[0]) == in_root_pts),
        "{text:?}"
    );
    assert_eq!(lines[1], "88:0", "{text:?}");
    t.wait_status(&b.id, "stopped");
    t.husk(&["delete", &b.id]).success();
    assert_eq!(fs::read_to_string(&hostconsole).unwrap(), "host-console\n");
    assert_eq!(fs::read_to_string(&hostptmx).unwrap(), "host-ptmx\n");
    assert!(entries(&hostpts).is_empty());
    assert!(host_mounts_under(&t.dir).is_empty());
    t.assert_clean(&b.id);

    // No devpts, and a ptmx node of the image's making: refused.
    let id = t.new_id("fakeptmx");
    let mut b = t.bundle_named(&id, &["true"]);
    let pts = b.rootfs().join("dev/pts");
    fs::create_dir_all(&pts).unwrap();
    nix::sys::stat::mknod(
        &pts.join("ptmx"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(5, 2),
    )
    .unwrap();
    b.edit(|c| {
        without_dev_mounts(c, true);
        c["process"]["terminal"] = json!(true);
    });
    t.husk(&[
        "create",
        "--console-socket",
        sock.to_str().unwrap(),
        "--bundle",
        b.path_str(),
        &id,
    ])
    .fails_with("devpts");
    t.assert_clean(&id);
}

// --------------------------------------------------- 8. seccomp notify

/// What the agent saw: the runtime's message, and how many notifications
/// it answered.
struct AgentReport {
    message: Value,
    fd_names: usize,
    answered: usize,
    paths: Vec<String>,
}

/// Reads a NUL-terminated string from another process's memory.
fn read_remote_str(pid: u32, addr: u64) -> String {
    use std::io::{Seek, SeekFrom};
    let Ok(mut f) = fs::File::open(format!("/proc/{pid}/mem")) else {
        return String::new();
    };
    let mut buf = [0u8; 256];
    if f.seek(SeekFrom::Start(addr)).is_err() {
        return String::new();
    }
    let n = f.read(&mut buf).unwrap_or(0);
    let end = buf[..n].iter().position(|&b| b == 0).unwrap_or(n);
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A seccomp agent: accepts the runtime's connection, takes the listener
/// fd and the container process state, then answers mkdir/mkdirat: a path
/// ending in "faked" succeeds without being made, anything else fails
/// with EXDEV. Serves until `stop`.
fn seccomp_agent(listener: UnixListener, stop: Arc<AtomicBool>) -> AgentReport {
    use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags, ScmpSyscall};
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let (conn, _) = listener.accept().unwrap();
    let mut data = Vec::new();
    let mut fds: Vec<OwnedFd> = Vec::new();
    loop {
        let mut buf = [0u8; 8192];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([RawFd; 4]);
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        )
        .unwrap();
        for c in msg.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(got) = c {
                // SAFETY: the kernel just installed these fds in our table; we own them.
                fds.extend(got.iter().map(|&fd| unsafe { OwnedFd::from_raw_fd(fd) }));
            }
        }
        let n = msg.bytes;
        if n == 0 {
            break; // the runtime closed the connection: the message is whole
        }
        data.extend_from_slice(&buf[..n]);
    }
    let message: Value = serde_json::from_slice(&data).unwrap_or_else(|e| {
        panic!(
            "agent got no JSON ({e}): {:?}",
            String::from_utf8_lossy(&data)
        )
    });
    assert_eq!(fds.len(), 1, "one fd, the listener");
    let notify = fds.pop().unwrap();
    let mkdir = ScmpSyscall::from_name("mkdir").unwrap();
    let mkdirat = ScmpSyscall::from_name("mkdirat").unwrap();
    let mut answered = 0;
    let mut paths = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let mut pfd = [nix::poll::PollFd::new(
            notify.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(100u16)) {
            Ok(0) | Err(_) => continue,
            Ok(_) => {}
        }
        let revents = pfd[0].revents().unwrap_or(nix::poll::PollFlags::empty());
        if revents.contains(nix::poll::PollFlags::POLLHUP) {
            break; // no process uses the filter any more
        }
        let Ok(req) = ScmpNotifReq::receive(notify.as_raw_fd()) else {
            continue;
        };
        let addr = if req.data.syscall == mkdirat {
            req.data.args[1]
        } else {
            req.data.args[0]
        };
        let path = read_remote_str(req.pid, addr);
        let resp = if req.data.syscall != mkdir && req.data.syscall != mkdirat {
            ScmpNotifResp::new_continue(req.id, ScmpNotifRespFlags::empty())
        } else if path.ends_with("faked") {
            ScmpNotifResp::new_val(req.id, 0, ScmpNotifRespFlags::empty())
        } else {
            ScmpNotifResp::new_error(req.id, -libc::EXDEV, ScmpNotifRespFlags::empty())
        };
        paths.push(path);
        if resp.respond(notify.as_raw_fd()).is_ok() {
            answered += 1;
        }
    }
    AgentReport {
        fd_names: message["fds"].as_array().map_or(0, Vec::len),
        message,
        answered,
        paths,
    }
}

/// SCMP_ACT_NOTIFY end to end (runtime-spec "seccomp" listenerPath): the
/// runtime hands the agent the listener fd with the container process
/// state, and the container's mkdir gets the agent's answers.
#[test]
fn seccomp_notify_hands_the_listener_to_the_agent_which_answers_syscalls() {
    let Some(t) = TestEnv::new("notify") else {
        return;
    };
    for (suffix, nnp) in [("nnp", true), ("privileged", false)] {
        let id = t.new_id(suffix);
        let sock = t.dir.join(format!("agent-{suffix}.sock"));
        let listener = UnixListener::bind(&sock).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let agent = std::thread::spawn(move || seccomp_agent(listener, flag));

        let mut b = t.bundle_named(
            &id,
            &[
                "sh",
                "-c",
                "echo '## faked'; mkdir /tmp/faked && echo ok; ls -d /tmp/faked 2>&1 || echo absent
                 echo '## denied'; mkdir /tmp/denied 2>&1 || echo failed
                 echo '## touch'; touch /tmp/t && echo ok",
            ],
        );
        let sock_s = sock.to_str().unwrap().to_string();
        b.edit(|c| {
            c["process"]["noNewPrivileges"] = json!(nnp);
            c["annotations"] = json!({"org.example.key": "value"});
            c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64"],
                "listenerPath": sock_s,
                "listenerMetadata": "husk-test-metadata",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]});
        });
        let r = t.run(&b);
        stop.store(true, Ordering::Relaxed);
        let report = agent.join().expect("the agent thread");
        assert_eq!(r.code, 0, "{r:?}");
        let s = sections(&r.stdout);
        // Success without the directory being made; then the agent's errno.
        assert_eq!(
            sec(&s, "faked"),
            "ok\nls: /tmp/faked: No such file or directory\nabsent",
            "{}",
            r.stdout
        );
        assert!(
            sec(&s, "denied").contains("Invalid cross-device link"),
            "{}",
            r.stdout
        );
        assert_eq!(sec(&s, "touch"), "ok");
        assert!(!b.rootfs().join("tmp/faked").exists());
        assert!(!b.rootfs().join("tmp/denied").exists());
        assert!(report.answered >= 2, "{} answered", report.answered);
        assert!(
            report.paths.iter().any(|p| p == "/tmp/faked"),
            "{:?}",
            report.paths
        );

        // The container process state, as the runtime-spec has it.
        let m = &report.message;
        assert!(m["ociVersion"].is_string(), "{m}");
        assert_eq!(m["fds"], json!(["seccompFd"]), "{m}");
        assert_eq!(report.fd_names, 1);
        let pid = m["pid"].as_i64().unwrap_or(0);
        assert!(pid > 0, "{m}");
        assert_eq!(m["metadata"], "husk-test-metadata", "{m}");
        let st = &m["state"];
        assert_eq!(st["id"], id.as_str(), "{m}");
        assert_eq!(st["pid"].as_i64(), Some(pid), "{m}");
        assert_eq!(st["status"], "creating", "{m}");
        assert_eq!(st["bundle"], b.path_str(), "{m}");
        assert!(st["ociVersion"].is_string(), "{m}");
        assert_eq!(st["annotations"]["org.example.key"], "value", "{m}");
        t.assert_clean(&id);
    }

    // Without listenerMetadata the optional field is left out.
    let id = t.new_id("nometa");
    let sock = t.dir.join("agent-nometa.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let agent = std::thread::spawn(move || seccomp_agent(listener, flag));
    let mut b = t.bundle_named(&id, &["true"]);
    let sock_s = sock.to_str().unwrap().to_string();
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock_s,
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]});
    });
    let r = t.run(&b);
    stop.store(true, Ordering::Relaxed);
    let report = agent.join().unwrap();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        report.message.get("metadata").is_none(),
        "{}",
        report.message
    );
    t.assert_clean(&id);

    // An agent that is not there: create fails and leaves nothing.
    let id = t.new_id("noagent");
    let mut b = t.bundle_named(&id, &["true"]);
    let missing = t.dir.join("no-such-agent.sock");
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": missing.to_str().unwrap(),
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]});
    });
    t.run(&b).fails_with("no-such-agent.sock");
    t.assert_clean(&id);
}

// --------------------------------------------------------------- 9. LSM

/// A label for a security module the host does not run would silently
/// leave the container unconfined: create must refuse it, naming the field.
#[test]
fn lsm_labels_without_the_lsm_are_refused() {
    let Some(t) = TestEnv::new("lsm") else {
        return;
    };
    let apparmor = fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    let selinux = Path::new("/sys/fs/selinux/enforce").exists();
    type SetLabel = fn(&mut Value);
    let cases: [(&str, bool, SetLabel); 3] = [
        ("process.apparmorProfile", apparmor, |c| {
            c["process"]["apparmorProfile"] = json!("husk-test-profile")
        }),
        ("process.selinuxLabel", selinux, |c| {
            c["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0")
        }),
        ("linux.mountLabel", selinux, |c| {
            c["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0")
        }),
    ];
    for (i, (field, present, set)) in cases.into_iter().enumerate() {
        if present {
            eprintln!("skipped {field}: this host runs the LSM");
            continue;
        }
        let id = t.new_id(&format!("lsm{i}"));
        let mut b = t.bundle_named(&id, &["true"]);
        b.edit(set);
        let r = t
            .husk(&["create", "--bundle", b.path_str(), &id])
            .fails_with(field);
        assert!(r.stderr.contains("not enabled"), "{}", r.stderr);
        t.assert_clean(&id);
        assert!(!t.root.join(&id).exists());
    }
}

// ----------------------------------------------------------- 10. devices

/// Device nodes of linux.devices (and the default ones, when the image's
/// own /dev is used) are made inside the rootfs even when the image's
/// symlinks point their parent directories at the host.
#[test]
fn device_nodes_through_symlinks_stay_in_the_rootfs() {
    let Some(t) = TestEnv::new("devlink") else {
        return;
    };
    let hostdev = t.dir.join("hostdevdir");
    let hostdev2 = t.dir.join("hostdev");
    fs::create_dir_all(&hostdev).unwrap();
    fs::create_dir_all(&hostdev2).unwrap();
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "stat -c '%n %F %t:%T' /devdir/mydev /dev/null /dev/zero",
    ]);
    let rootfs = b.rootfs();
    symlink(&hostdev, rootfs.join("devdir")).unwrap();
    fs::remove_dir(rootfs.join("dev")).unwrap();
    symlink(&hostdev2, rootfs.join("dev")).unwrap();
    b.edit(|c| {
        without_dev_mounts(c, false);
        c["linux"]["devices"] = json!([{"path": "/devdir/mydev", "type": "c",
            "major": 1, "minor": 7, "fileMode": 438}]);
    });
    let out = probe(&t, &b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "/devdir/mydev character special file 1:7",
            "/dev/null character special file 1:3",
            "/dev/zero character special file 1:5",
        ],
        "{out}"
    );
    assert!(entries(&hostdev).is_empty(), "{:?}", entries(&hostdev));
    assert!(entries(&hostdev2).is_empty(), "{:?}", entries(&hostdev2));
    let node = fs::symlink_metadata(in_root(&rootfs, &hostdev).join("mydev")).unwrap();
    assert!(node.file_type().is_char_device());
    assert!(
        fs::symlink_metadata(in_root(&rootfs, &hostdev2).join("null"))
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert!(host_mounts_under(&t.dir).is_empty());
    t.assert_clean(&b.id);
}
