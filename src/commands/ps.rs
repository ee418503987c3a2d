//! `husk ps ID` (alias `top`): the processes in the container's cgroup.
//! The table shows PID (host), USER (a name from the container's own
//! /etc/passwd), %CPU since each process started, RSS and COMMAND;
//! `--format json` stays runc's plain array of host pids, which engines
//! parse.

use anyhow::Result;
use husk::container::{ps, stats::human_bytes};

use crate::cli::{Format, Global, PsArgs};

pub fn run(a: PsArgs, g: &Global) -> Result<i32> {
    let rec = super::existing_store(g)?.load(&a.id)?;
    let running = husk::container::observe(&rec).has_process();
    let pids: Vec<i32> = match husk::cgroups::from_record(&rec.cgroup) {
        Some(cg) => cg.pids()?.into_iter().map(|p| p.as_raw()).collect(),
        // No cgroup (rootless): the processes of its pid namespace.
        None if running => husk::process::without_cgroup(rec.pid, rec.own_pid_ns)
            .into_iter()
            .map(|p| p.as_raw())
            .collect(),
        None => vec![],
    };
    match a.format {
        Format::Json => super::out!("{}", serde_json::to_string(&pids)?)?,
        Format::Table => {
            // Names come from the init's root and user namespace; another
            // process of the container sees the same ones.
            let names_from = if running {
                rec.pid
            } else {
                pids.first().copied().unwrap_or(0)
            };
            let names = ps::container_users(names_from);
            let uid_map = std::fs::read_to_string(format!("/proc/{names_from}/uid_map")).ok();
            let (uptime, hz) = (ps::uptime(), ps::clock_ticks());
            let rows: Vec<Vec<String>> = pids
                .iter()
                // A process that exits while we read is not listed.
                .filter_map(|p| ps::process_info(*p, uptime, hz))
                .map(|i| {
                    vec![
                        i.pid.to_string(),
                        ps::user_name(i.uid, uid_map.as_deref(), &names),
                        format!("{:.1}", i.cpu_percent),
                        human_bytes(i.rss),
                        i.command,
                    ]
                })
                .collect();
            super::print_table(&["PID", "USER", "%CPU", "RSS", "COMMAND"], &rows)?;
        }
    }
    Ok(0)
}
