//! AppArmor profiles and SELinux labels: detection (config validation
//! refuses a label for an LSM the host does not run) and application
//! through the init's own procfs handle just before exec.
//!
//! Runs in: validation (host), container init (apply).

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;

#[derive(Debug, thiserror::Error)]
pub enum LsmError {
    #[error("failed to apply {what} {label:?}")]
    Apply {
        what: &'static str,
        label: String,
        #[source]
        source: std::io::Error,
    },
}

pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

fn write_attr(
    proc: &OwnedFd,
    file: &str,
    what: &'static str,
    text: &str,
    label: &str,
) -> Result<(), LsmError> {
    let err = |source| LsmError::Apply {
        what,
        label: label.into(),
        source,
    };
    let fd = openat(
        proc.as_fd(),
        file,
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| err(e.into()))?;
    std::fs::File::from(fd)
        .write_all(text.as_bytes())
        .map_err(err)
}

/// Asks the kernel to switch to `profile` at the next execve.
pub fn apply_apparmor(proc: &OwnedFd, profile: &str) -> Result<(), LsmError> {
    let text = format!("exec {profile}");
    write_attr(
        proc,
        "self/attr/apparmor/exec",
        "AppArmor profile",
        &text,
        profile,
    )
    .or_else(|_| write_attr(proc, "self/attr/exec", "AppArmor profile", &text, profile))
}

/// Sets the SELinux label of the process after the next execve.
pub fn apply_selinux(proc: &OwnedFd, label: &str) -> Result<(), LsmError> {
    write_attr(proc, "self/attr/exec", "SELinux label", label, label)
}
