//! Test bundles: a busybox-static rootfs (the binary hard-linked from one
//! cached copy, an applet symlink per command) and a config.json based on
//! `husk spec`, with terminal off, the given args and a relative cgroupsPath
//! equal to the container id (nested under the test's own cgroup).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Value};

pub struct Bundle {
    pub dir: PathBuf,
    pub id: String,
    pub config: Value,
}

/// The static busybox to use: $HUSK_BUSYBOX or /bin/busybox.
pub fn busybox() -> PathBuf {
    let p = std::env::var_os("HUSK_BUSYBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/bin/busybox".into());
    assert!(
        p.exists(),
        "no busybox at {} (apt-get install busybox-static, or set HUSK_BUSYBOX)",
        p.display()
    );
    p
}

/// One copy of busybox (so rootfs copies can hard-link it) and its applet list.
fn cached() -> &'static (PathBuf, Vec<String>) {
    static C: OnceLock<(PathBuf, Vec<String>)> = OnceLock::new();
    C.get_or_init(|| {
        let src = busybox();
        // Under target/tmp: one cache for every run, removed by `cargo clean`.
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("husk-test-busybox");
        fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("busybox");
        if !bin.exists() {
            fs::copy(&src, &bin).unwrap();
        }
        // Another test thread that forks while the copy is open for
        // writing holds that fd until its child execs: ETXTBSY, briefly.
        let out = (0..100)
            .find_map(
                |_| match std::process::Command::new(&bin).arg("--list").output() {
                    Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                        std::thread::sleep(std::time::Duration::from_millis(10));
                        None
                    }
                    r => Some(r.unwrap()),
                },
            )
            .expect("busybox stayed busy (ETXTBSY) for a second");
        let applets = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|a| !a.is_empty() && *a != "busybox")
            .map(str::to_string)
            .collect();
        (bin, applets)
    })
}

/// Makes a busybox rootfs at `dir`.
pub fn make_rootfs(dir: &Path) {
    let (bin, applets) = cached();
    for d in ["bin", "proc", "dev", "sys", "tmp", "etc", "root"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    let target = dir.join("bin/busybox");
    if fs::hard_link(bin, &target).is_err() {
        fs::copy(bin, &target).unwrap();
    }
    for a in applets {
        let _ = symlink("busybox", dir.join("bin").join(a));
    }
    fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .unwrap();
    fs::write(dir.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
}

/// husk's default spec, as `husk spec` writes it.
pub fn default_config() -> Value {
    let dir = std::env::temp_dir().join(format!(
        "husk-test-spec-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let st = std::process::Command::new(super::husk_bin())
        .args(["spec", "--bundle"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success(), "husk spec failed");
    let v: Value = serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap();
    fs::remove_dir_all(&dir).unwrap();
    v
}

impl Bundle {
    pub fn new(dir: &Path, id: &str, args: &[&str]) -> Bundle {
        fs::create_dir_all(dir).unwrap();
        make_rootfs(&dir.join("rootfs"));
        let mut config = default_config();
        config["process"]["terminal"] = json!(false);
        // Tests write into their rootfs; read-only roots are tested on purpose.
        config["root"]["readonly"] = json!(false);
        config["process"]["args"] = json!(args);
        config["linux"]["cgroupsPath"] = json!(id);
        let b = Bundle {
            dir: dir.to_path_buf(),
            id: id.to_string(),
            config,
        };
        b.save();
        b
    }

    pub fn path_str(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// Changes the config and writes it.
    pub fn edit(&mut self, f: impl FnOnce(&mut Value)) -> &mut Self {
        f(&mut self.config);
        self.save();
        self
    }

    pub fn save(&self) {
        fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }
}
