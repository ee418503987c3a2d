//! `husk events ID`: runc's event stream — a `stats` line every interval
//! and an `oom` line whenever the memory controller kills in the
//! container's cgroup; `--stats` prints one stats line and exits.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use serde_json::json;

use crate::cli::{EventsArgs, Global};

pub fn run(a: EventsArgs, g: &Global) -> Result<i32> {
    let interval = husk::units::parse_duration(&a.interval)?;
    if interval.is_zero() {
        return Err(anyhow!("--interval must be more than zero"));
    }
    let store = super::existing_store(g);
    let rec = store.load(&a.id)?;
    let cg = husk::cgroups::from_record(&rec.cgroup)
        .ok_or_else(|| anyhow!("container {:?} has no cgroup", a.id))?;
    let stats_line = || {
        let mut s = cg.stats();
        s.network_interfaces = husk::cgroups::stats::network(rec.pid);
        json!({"type": "stats", "id": a.id, "data": s})
    };
    let mut out = std::io::stdout().lock();
    if a.stats {
        writeln!(out, "{}", stats_line())?;
        return Ok(0);
    }
    let mut ooms = cg.stats().memory.oom_kills;
    let mut next = Instant::now();
    loop {
        // Stop once the container is gone (runc does the same).
        let rec = match store.load(&a.id) {
            Ok(r) => r,
            Err(_) => return Ok(0),
        };
        let now = Instant::now();
        if now >= next {
            writeln!(out, "{}", stats_line())?;
            out.flush()?;
            next = now + interval;
        }
        let kills = cg.stats().memory.oom_kills;
        if kills > ooms {
            writeln!(out, "{}", json!({"type": "oom", "id": a.id}))?;
            out.flush()?;
            ooms = kills;
        }
        if !husk::container::observe(&rec).has_process() {
            return Ok(0);
        }
        std::thread::sleep(
            next.saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100)),
        );
    }
}
