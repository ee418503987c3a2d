//! `update`: change a running container's resources. Zero values mean
//! "leave as is" (containerd's shim sends zeros for what it does not
//! change); the record keeps the resources now in force.

use oci_spec::runtime::LinuxResources;
use serde_json::Value;

use super::{observe, ContainerError, Result};
use crate::cgroups;
use crate::lifecycle::{self, Command};
use crate::store::Locked;

pub fn update(
    ct: &mut Locked,
    mut res: LinuxResources,
    base: Option<&LinuxResources>,
) -> Result<()> {
    let phase = observe(&ct.record);
    lifecycle::check(&ct.id, phase, Command::Update)?;
    let cg = cgroups::from_record(&ct.record.cgroup).ok_or_else(|| {
        ContainerError::Usage(format!("container {:?} has no cgroup to update", ct.id))
    })?;
    // Device rules are not updatable (runc neither): they stay as created.
    res.set_devices(None);
    cg.apply(&res)?;
    let current = match &ct.record.resources {
        Some(v) => v.clone(),
        None => base
            .map(|b| serde_json::to_value(b).unwrap_or(Value::Null))
            .unwrap_or(Value::Null),
    };
    let change = serde_json::to_value(&res).unwrap_or(Value::Null);
    ct.record.resources = Some(merge(current, change));
    ct.save()?;
    Ok(())
}

/// Deep merge where a change's non-zero, non-null leaf (or non-empty
/// array) replaces the current value.
pub fn merge(current: Value, change: Value) -> Value {
    match (current, change) {
        (Value::Object(mut cur), Value::Object(ch)) => {
            for (k, v) in ch {
                let old = cur.remove(&k).unwrap_or(Value::Null);
                cur.insert(k, merge(old, v));
            }
            Value::Object(cur)
        }
        (cur, Value::Null) => cur,
        (cur, Value::Number(n)) if n.as_f64() == Some(0.0) => {
            if cur.is_null() {
                Value::Number(n)
            } else {
                cur
            }
        }
        (cur, Value::Array(a)) if a.is_empty() => cur,
        (cur, Value::String(s)) if s.is_empty() => cur,
        (_, ch) => ch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zeros_keep_what_was_there() {
        let cur = json!({"memory": {"limit": 100, "swap": 200}, "cpu": {"shares": 512}});
        let ch = json!({"memory": {"limit": 300, "swap": 0, "reservation": 0}, "cpu": {"shares": 0, "quota": 5000}});
        assert_eq!(
            merge(cur, ch),
            json!({"memory": {"limit": 300, "swap": 200, "reservation": 0}, "cpu": {"shares": 512, "quota": 5000}})
        );
    }
}
