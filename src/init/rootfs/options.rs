//! Mount options of config.json → mount(2) flags, propagation changes,
//! recursive attributes (mount_setattr) and the filesystem data string,
//! with runc's vocabulary. Pure.

use nix::mount::MsFlags;

/// mount_setattr(2) attribute bits (linux/mount.h).
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x200000;

/// Parsed options of one mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Flags to set (MS_BIND and MS_REC included for bind mounts).
    pub flags: MsFlags,
    /// Flags the options cleared explicitly ("rw", "suid", "exec", …).
    pub cleared: MsFlags,
    /// Propagation changes, applied in order after the mount.
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes to set and clear (rro, rnosuid, …).
    pub attr_set: u64,
    pub attr_clr: u64,
    /// Everything else, comma-joined, for the filesystem.
    pub data: String,
    /// "tmpcopyup": copy the directory's old contents into a new tmpfs.
    pub copy_up: bool,
    /// "idmap"/"ridmap" were asked for.
    pub idmap: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            attr_set: 0,
            attr_clr: 0,
            data: String::new(),
            copy_up: false,
            idmap: false,
        }
    }
}

impl Options {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
}

/// runc's table: option → (clear?, flag).
fn flag(opt: &str) -> Option<(bool, MsFlags)> {
    use MsFlags as F;
    Some(match opt {
        "async" => (true, F::MS_SYNCHRONOUS),
        "atime" => (true, F::MS_NOATIME),
        "bind" => (false, F::MS_BIND),
        "defaults" => (false, F::empty()),
        "dev" => (true, F::MS_NODEV),
        "diratime" => (true, F::MS_NODIRATIME),
        "dirsync" => (false, F::MS_DIRSYNC),
        "exec" => (true, F::MS_NOEXEC),
        "iversion" => (false, F::MS_I_VERSION),
        "lazytime" => (false, F::MS_LAZYTIME),
        "loud" => (true, F::MS_SILENT),
        "mand" => (false, F::MS_MANDLOCK),
        "noatime" => (false, F::MS_NOATIME),
        "nodev" => (false, F::MS_NODEV),
        "nodiratime" => (false, F::MS_NODIRATIME),
        "noexec" => (false, F::MS_NOEXEC),
        "noiversion" => (true, F::MS_I_VERSION),
        "nolazytime" => (true, F::MS_LAZYTIME),
        "nomand" => (true, F::MS_MANDLOCK),
        "norelatime" => (true, F::MS_RELATIME),
        "nostrictatime" => (true, F::MS_STRICTATIME),
        "nosuid" => (false, F::MS_NOSUID),
        "nosymfollow" => (false, F::from_bits_retain(0x100)), // MS_NOSYMFOLLOW, 5.10
        "rbind" => (false, F::MS_BIND | F::MS_REC),
        "relatime" => (false, F::MS_RELATIME),
        "remount" => (false, F::MS_REMOUNT),
        "ro" => (false, F::MS_RDONLY),
        "rw" => (true, F::MS_RDONLY),
        "silent" => (false, F::MS_SILENT),
        "strictatime" => (false, F::MS_STRICTATIME),
        "suid" => (true, F::MS_NOSUID),
        "sync" => (false, F::MS_SYNCHRONOUS),
        _ => return None,
    })
}

/// Propagation options → the flag to mount with.
pub fn propagation(opt: &str) -> Option<MsFlags> {
    use MsFlags as F;
    Some(match opt {
        "private" => F::MS_PRIVATE,
        "rprivate" => F::MS_PRIVATE | F::MS_REC,
        "shared" => F::MS_SHARED,
        "rshared" => F::MS_SHARED | F::MS_REC,
        "slave" => F::MS_SLAVE,
        "rslave" => F::MS_SLAVE | F::MS_REC,
        "unbindable" => F::MS_UNBINDABLE,
        "runbindable" => F::MS_UNBINDABLE | F::MS_REC,
        _ => return None,
    })
}

/// Recursive mount attributes: option → (clear?, attribute).
fn rec_attr(opt: &str) -> Option<(bool, u64)> {
    Some(match opt {
        "rro" => (false, MOUNT_ATTR_RDONLY),
        "rrw" => (true, MOUNT_ATTR_RDONLY),
        "rnosuid" => (false, MOUNT_ATTR_NOSUID),
        "rsuid" => (true, MOUNT_ATTR_NOSUID),
        "rnodev" => (false, MOUNT_ATTR_NODEV),
        "rdev" => (true, MOUNT_ATTR_NODEV),
        "rnoexec" => (false, MOUNT_ATTR_NOEXEC),
        "rexec" => (true, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (false, MOUNT_ATTR_NODIRATIME),
        "rdiratime" => (true, MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (false, MOUNT_ATTR_RELATIME),
        "rnorelatime" => (true, MOUNT_ATTR__ATIME),
        "rnoatime" => (false, MOUNT_ATTR_NOATIME),
        "ratime" => (true, MOUNT_ATTR__ATIME),
        "rstrictatime" => (false, MOUNT_ATTR_STRICTATIME),
        "rnostrictatime" => (true, MOUNT_ATTR__ATIME),
        "rnosymfollow" => (false, MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => (true, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

/// Every option word husk understands (for `features`).
pub fn known() -> Vec<&'static str> {
    let mut v = vec![
        "async",
        "atime",
        "bind",
        "defaults",
        "dev",
        "diratime",
        "dirsync",
        "exec",
        "iversion",
        "lazytime",
        "loud",
        "mand",
        "noatime",
        "nodev",
        "nodiratime",
        "noexec",
        "noiversion",
        "nolazytime",
        "nomand",
        "norelatime",
        "nostrictatime",
        "nosuid",
        "nosymfollow",
        "rbind",
        "relatime",
        "remount",
        "ro",
        "rw",
        "silent",
        "strictatime",
        "suid",
        "sync",
        "private",
        "rprivate",
        "shared",
        "rshared",
        "slave",
        "rslave",
        "unbindable",
        "runbindable",
        "rro",
        "rrw",
        "rnosuid",
        "rsuid",
        "rnodev",
        "rdev",
        "rnoexec",
        "rexec",
        "rnodiratime",
        "rdiratime",
        "rrelatime",
        "rnorelatime",
        "rnoatime",
        "ratime",
        "rstrictatime",
        "rnostrictatime",
        "rnosymfollow",
        "rsymfollow",
        "tmpcopyup",
    ];
    v.sort();
    v
}

/// Parses one mount's option list; `typ` "bind" counts as the option "bind".
pub fn parse(typ: Option<&str>, opts: &[String]) -> Options {
    let mut o = Options::default();
    if typ == Some("bind") {
        o.flags |= MsFlags::MS_BIND;
    }
    let mut data = Vec::new();
    for opt in opts {
        let opt = opt.as_str();
        if let Some((clear, f)) = flag(opt) {
            if clear {
                o.flags.remove(f);
                o.cleared |= f;
            } else {
                o.flags |= f;
                o.cleared.remove(f);
            }
        } else if let Some(p) = propagation(opt) {
            o.propagation.push(p);
        } else if let Some((clear, a)) = rec_attr(opt) {
            if clear {
                o.attr_clr |= a;
                o.attr_set &= !a;
            } else {
                o.attr_set |= a;
                o.attr_clr &= !a;
                if a & MOUNT_ATTR__ATIME != 0 || a == MOUNT_ATTR_RELATIME {
                    o.attr_clr |= MOUNT_ATTR__ATIME;
                }
            }
        } else if opt == "tmpcopyup" {
            o.copy_up = true;
        } else if opt == "idmap" || opt == "ridmap" {
            o.idmap = true;
        } else if !opt.is_empty() {
            data.push(opt);
        }
    }
    o.data = data.join(",");
    o
}

/// A bind's per-mount flags as mount_setattr (set, clear) on its top
/// mount, leaving it as a bind remount with these flags would: read-only
/// or writable as asked, nosuid/nodev/noexec/nodiratime added, the atime
/// mode replaced when the options name one.
pub fn bind_attrs(flags: MsFlags) -> (u64, u64) {
    let (mut set, mut clr) = (0, 0);
    if flags.contains(MsFlags::MS_RDONLY) {
        set |= MOUNT_ATTR_RDONLY;
    } else {
        clr |= MOUNT_ATTR_RDONLY;
    }
    for (ms, attr) in [
        (MsFlags::MS_NOSUID, MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
        (MsFlags::MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
    ] {
        if flags.contains(ms) {
            set |= attr;
        }
    }
    let atime = if flags.contains(MsFlags::MS_NOATIME) {
        Some(MOUNT_ATTR_NOATIME)
    } else if flags.contains(MsFlags::MS_STRICTATIME) {
        Some(MOUNT_ATTR_STRICTATIME)
    } else if flags.contains(MsFlags::MS_RELATIME) {
        Some(MOUNT_ATTR_RELATIME)
    } else {
        None
    };
    if let Some(a) = atime {
        clr |= MOUNT_ATTR__ATIME;
        set |= a;
    }
    (set, clr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_flags_become_top_mount_attributes() {
        let ro = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NOATIME;
        assert_eq!(
            bind_attrs(ro),
            (
                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME,
                MOUNT_ATTR__ATIME
            )
        );
        // Without "ro" the bind is made writable, as a remount would.
        assert_eq!(
            bind_attrs(MsFlags::MS_NODEV),
            (MOUNT_ATTR_NODEV, MOUNT_ATTR_RDONLY)
        );
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn tmpfs_options_split_into_flags_and_data() {
        let o = parse(
            Some("tmpfs"),
            &s(&["nosuid", "strictatime", "mode=755", "size=65536k"]),
        );
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(!o.is_bind());
    }

    #[test]
    fn rbind_with_propagation_and_ro() {
        let o = parse(Some("none"), &s(&["rbind", "rprivate", "ro"]));
        assert!(o.is_bind());
        assert!(o.flags.contains(MsFlags::MS_REC | MsFlags::MS_RDONLY));
        assert_eq!(o.propagation, [MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(o.data, "");
    }

    #[test]
    fn bind_type_is_a_bind_and_rw_clears_ro() {
        let o = parse(Some("bind"), &s(&["ro", "rw"]));
        assert!(o.is_bind());
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert!(o.cleared.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn recursive_attributes() {
        let o = parse(Some("bind"), &s(&["rbind", "rro", "rnosuid", "rnoatime"]));
        assert_eq!(
            o.attr_set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME
        );
        assert_eq!(o.attr_clr & MOUNT_ATTR__ATIME, MOUNT_ATTR__ATIME);
    }

    #[test]
    fn devpts_keeps_its_data() {
        let o = parse(
            Some("devpts"),
            &s(&[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ]),
        );
        assert_eq!(o.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    }
}
