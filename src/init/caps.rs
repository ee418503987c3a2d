//! Capabilities in all five sets. The bounding set is cut first (while the
//! init still has CAP_SETPCAP), the other sets after the uid change.
//!
//! Runs in: container init and exec'd processes.

use std::collections::HashSet;

use caps::{CapSet, Capability as Cap, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    #[error("failed to set the {set} capability set")]
    Set {
        set: &'static str,
        #[source]
        source: caps::errors::CapsError,
    },
}

/// The capabilities the running kernel knows; names it does not know are
/// skipped (runc does the same, with a warning). Read once from
/// cap_last_cap: probing each capability costs a prctl, and this is asked
/// for every set.
fn supported() -> CapsHashSet {
    static LAST: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    let last = *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                caps::runtime::thread_all_supported()
                    .iter()
                    .map(|c| c.index())
                    .max()
                    .unwrap_or(40)
            })
    });
    caps::all()
        .into_iter()
        .filter(|c| c.index() <= last)
        .collect()
}

/// Converts OCI capability names to the caps crate's values, dropping
/// what this kernel does not have.
pub fn to_caps(list: Option<&Capabilities>) -> CapsHashSet {
    let known = supported();
    let mut out = HashSet::new();
    for c in list.into_iter().flatten() {
        let name = crate::serde_name(c);
        match name.parse::<Cap>() {
            Ok(cap) if known.contains(&cap) => {
                out.insert(cap);
            }
            _ => log::warn!("capability {name} is not supported by this kernel: skipped"),
        }
    }
    out
}

/// Drops from the bounding set everything not listed.
pub fn limit_bounding(c: &LinuxCapabilities) -> Result<(), CapsError> {
    let keep = to_caps(c.bounding().as_ref());
    for cap in supported() {
        if !keep.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap).map_err(|source| CapsError::Set {
                set: "bounding",
                source,
            })?;
        }
    }
    Ok(())
}

/// Sets effective, permitted and inheritable, then raises the ambient ones.
pub fn apply(c: &LinuxCapabilities) -> Result<(), CapsError> {
    let set = |which, name, list: Option<&Capabilities>| {
        caps::set(None, which, &to_caps(list))
            .map_err(|source| CapsError::Set { set: name, source })
    };
    // Each capset(2) must leave effective within permitted and may only
    // widen inheritable with CAP_SETPCAP: inheritable while we still have
    // everything, then effective down, then permitted down to it.
    set(CapSet::Inheritable, "inheritable", c.inheritable().as_ref())?;
    set(CapSet::Effective, "effective", c.effective().as_ref())?;
    set(CapSet::Permitted, "permitted", c.permitted().as_ref())?;
    caps::clear(None, CapSet::Ambient).map_err(|source| CapsError::Set {
        set: "ambient",
        source,
    })?;
    // An ambient capability must also be permitted and inheritable; runc's
    // default spec lists ambient ones without inheritable, and runc skips
    // those with a warning rather than failing: so does husk.
    for cap in to_caps(c.ambient().as_ref()) {
        if let Err(e) = caps::raise(None, CapSet::Ambient, cap) {
            log::debug!("cannot raise ambient capability {cap}: {e}");
        }
    }
    Ok(())
}

/// Every capability name this kernel supports, in OCI spelling (for `features`).
pub fn known_names() -> Vec<String> {
    let mut v: Vec<String> = supported().into_iter().map(|c| c.to_string()).collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_names_convert() {
        let list: Capabilities =
            serde_json::from_str(r#"["CAP_KILL","CAP_NET_BIND_SERVICE"]"#).unwrap();
        let c = to_caps(Some(&list));
        assert!(c.contains(&Cap::CAP_KILL) && c.contains(&Cap::CAP_NET_BIND_SERVICE));
        assert_eq!(c.len(), 2);
    }
}
