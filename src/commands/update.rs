//! `husk update`: --resources FILE|- (OCI LinuxResources JSON) or runc's flags.

use std::io::Read;

use anyhow::{anyhow, Context, Result};
use husk::units::parse_size;
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};

use crate::cli::{Global, UpdateArgs};

pub fn run(a: UpdateArgs, g: &Global) -> Result<i32> {
    let res = resources(&a)?;
    let store = super::existing_store(g)?;
    let mut ct = store.lock(&a.id)?;
    let spec = husk::container::exec::stored_spec(&store, &a.id).ok();
    let base = spec
        .as_ref()
        .and_then(|s| s.linux().as_ref())
        .and_then(|l| l.resources().as_ref());
    husk::container::update::update(&mut ct, res, base)
        .with_context(|| format!("failed to update container {:?}", a.id))?;
    Ok(0)
}

/// The change asked for: the JSON given, with any flags laid over it.
fn resources(a: &UpdateArgs) -> Result<LinuxResources> {
    let mut v: Value = match &a.resources {
        Some(p) if p.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read resources from stdin")?;
            serde_json::from_str(&s).context("invalid resources JSON on stdin")?
        }
        Some(p) => {
            let s = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            serde_json::from_str(&s)
                .with_context(|| format!("invalid resources JSON in {}", p.display()))?
        }
        None => json!({}),
    };
    let mut set = |path: &[&str], val: Value| {
        let mut cur = &mut v;
        for k in &path[..path.len() - 1] {
            if !cur.get(*k).is_some_and(Value::is_object) {
                cur[*k] = json!({});
            }
            cur = &mut cur[*k];
        }
        cur[path[path.len() - 1]] = val;
    };
    let size = |s: &Option<String>| s.as_deref().map(parse_size).transpose();
    if let Some(m) = size(&a.memory)? {
        set(&["memory", "limit"], json!(m));
    }
    if let Some(m) = size(&a.memory_swap)? {
        set(&["memory", "swap"], json!(m));
    }
    if let Some(m) = size(&a.memory_reservation)? {
        set(&["memory", "reservation"], json!(m));
    }
    if let Some(m) = size(&a.kernel_memory_tcp)? {
        set(&["memory", "kernelTCP"], json!(m));
    }
    if let Some(n) = a.cpu_shares {
        set(&["cpu", "shares"], json!(n));
    }
    if let Some(n) = a.cpu_quota {
        set(&["cpu", "quota"], json!(n));
    }
    if let Some(n) = a.cpu_period {
        set(&["cpu", "period"], json!(n));
    }
    if let Some(n) = a.cpu_rt_period {
        set(&["cpu", "realtimePeriod"], json!(n));
    }
    if let Some(n) = a.cpu_rt_runtime {
        set(&["cpu", "realtimeRuntime"], json!(n));
    }
    if let Some(s) = &a.cpuset_cpus {
        set(&["cpu", "cpus"], json!(s));
    }
    if let Some(s) = &a.cpuset_mems {
        set(&["cpu", "mems"], json!(s));
    }
    if let Some(n) = a.pids_limit {
        set(&["pids", "limit"], json!(n));
    }
    if let Some(n) = a.blkio_weight {
        set(&["blockIO", "weight"], json!(n));
    }
    let de = serde_json::from_value::<LinuxResources>(v.clone());
    de.map_err(|e| anyhow!("invalid resources {v}: {e}"))
}
