//! `husk events [--follow] [--since T] [ID]`: lifecycle events, one JSON
//! line each, from the containers' events files. `--stats` prints runc's
//! stats document once; `--interval D` is runc's stream (stats every D and
//! an `oom` line when the memory controller kills).

use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, Result};
use husk::shim::events::{self, Event};
use serde_json::json;

use crate::cli::{EventsArgs, Global};

pub fn run(a: EventsArgs, g: &Global) -> Result<i32> {
    let store = super::existing_store(g)?;
    if a.stats || a.interval.is_some() {
        let id =
            a.id.clone()
                .ok_or_else(|| anyhow!("--stats and --interval need a container id"))?;
        return stats(&store, &id, a.stats, a.interval.as_deref().unwrap_or("5s"));
    }
    let since = match &a.since {
        None => None,
        Some(s) => Some(match husk::timestamp::parse(s) {
            Some(t) => t,
            None => SystemTime::now() - husk::units::parse_duration(s)?,
        }),
    };
    let since = since.map(husk::timestamp::format);
    if let Some(id) = &a.id {
        store.load(id)?; // "container does not exist"
    }
    let mut printed: std::collections::HashMap<String, String> = Default::default();
    let mut out = std::io::stdout().lock();
    loop {
        let ids = match &a.id {
            Some(id) => vec![id.clone()],
            None => store.ids()?,
        };
        let mut batch: Vec<Event> = Vec::new();
        for id in &ids {
            let floor = printed.get(id).cloned().or_else(|| since.clone());
            batch.extend(
                events::read(&store.dir(id))
                    .into_iter()
                    .filter(|e| floor.as_ref().is_none_or(|f| &e.time > f)),
            );
        }
        batch.sort_by(|x, y| x.time.cmp(&y.time));
        for e in &batch {
            writeln!(out, "{}", serde_json::to_string(e)?)?;
            printed.insert(e.id.clone(), e.time.clone());
        }
        out.flush()?;
        if !a.follow {
            return Ok(0);
        }
        if let Some(id) = &a.id {
            if store.load(id).is_err() {
                return Ok(0);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// runc's `events --stats` and `events --interval`.
fn stats(store: &husk::store::Store, id: &str, once: bool, interval: &str) -> Result<i32> {
    let interval = husk::units::parse_duration(interval)?;
    if interval.is_zero() {
        return Err(anyhow!("--interval must be more than zero"));
    }
    let rec = store.load(id)?;
    let cg = husk::cgroups::from_record(&rec.cgroup)
        .ok_or_else(|| anyhow!("container {id:?} has no cgroup"))?;
    let line = || {
        let mut s = cg.stats();
        s.network_interfaces = husk::cgroups::stats::network(rec.pid);
        json!({"type": "stats", "id": id, "data": s})
    };
    let mut out = std::io::stdout().lock();
    if once {
        writeln!(out, "{}", line())?;
        return Ok(0);
    }
    let mut ooms = cg.oom_kills();
    let mut next = Instant::now();
    loop {
        let rec = match store.load(id) {
            Ok(r) => r,
            Err(_) => return Ok(0),
        };
        if Instant::now() >= next {
            writeln!(out, "{}", line())?;
            out.flush()?;
            next = Instant::now() + interval;
        }
        let kills = cg.oom_kills();
        if kills > ooms {
            writeln!(out, "{}", json!({"type": "oom", "id": id}))?;
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
