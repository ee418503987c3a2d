//! `husk stats`: what one sample of a container's cgroup and network
//! counters says, the cpu percentage between two samples, and how a report
//! prints (docker-style table, or one JSON object per container and
//! sample). Pure: the caller reads the counters (cgroups::Driver::stats,
//! cgroups::stats::network) and the clock.
//!
//! Called from: commands/stats.rs.

use std::time::Duration;

use serde::Serialize;

use crate::cgroups::stats::{BlkioEntry, NetworkInterface, Stats};

/// The counters of one container at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    /// CPU time used by the cgroup so far, nanoseconds.
    pub cpu_ns: u64,
    pub memory: MemoryUse,
    pub io: IoUse,
    pub network: NetUse,
    pub pids: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MemoryUse {
    /// Bytes in use, without inactive page cache (as docker counts it:
    /// cache the kernel can drop at once is not the container's use).
    pub usage: u64,
    /// The highest usage seen (0 where the kernel does not keep it).
    pub peak: u64,
    /// The cgroup's limit, or the host's memory when that is less (an
    /// unlimited cgroup is limited by the host).
    pub limit: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IoUse {
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub read_ops: u64,
    pub write_ops: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetUse {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

/// What `stats` prints for one container and sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub id: String,
    pub cpu_percent: f64,
    pub cpu_time_ns: u64,
    pub memory: MemoryUse,
    pub io: IoUse,
    pub network: NetUse,
    pub pids: u64,
}

impl Sample {
    /// One sample from the cgroup stats and the network interfaces of the
    /// container's network namespace; `host_memory` caps the limit.
    pub fn new(s: &Stats, network: &[NetworkInterface], host_memory: u64) -> Sample {
        let inactive_file = ["total_inactive_file", "inactive_file"]
            .iter()
            .find_map(|k| s.memory.raw.get(*k))
            .copied()
            .unwrap_or(0);
        let (read_bytes, write_bytes) = sum_blkio(&s.blkio.io_service_bytes_recursive);
        let (read_ops, write_ops) = sum_blkio(&s.blkio.io_serviced_recursive);
        Sample {
            cpu_ns: s.cpu.usage.total,
            memory: MemoryUse {
                usage: s.memory.usage.usage.saturating_sub(inactive_file),
                peak: s.memory.usage.max,
                limit: effective_limit(s.memory.usage.limit, host_memory),
            },
            io: IoUse {
                read_bytes,
                write_bytes,
                read_ops,
                write_ops,
            },
            network: sum_network(network),
            pids: s.pids.current,
        }
    }

    /// The report for this sample, with the cpu percentage since `prev`,
    /// taken `wall` earlier.
    pub fn report(&self, id: &str, prev: &Sample, wall: Duration) -> Report {
        Report {
            id: id.to_string(),
            cpu_percent: cpu_percent(prev.cpu_ns, self.cpu_ns, wall),
            cpu_time_ns: self.cpu_ns,
            memory: self.memory,
            io: self.io,
            network: self.network,
            pids: self.pids,
        }
    }
}

/// CPU time used per wall time, in percent: 100 is one whole cpu, so a
/// container busy on two cpus shows 200 (like top, unlike docker's share
/// of the whole host).
pub fn cpu_percent(prev_ns: u64, cur_ns: u64, wall: Duration) -> f64 {
    let wall_ns = wall.as_nanos();
    if wall_ns == 0 {
        return 0.0;
    }
    // A counter that went backwards (a new cgroup under the same name)
    // says nothing about this interval.
    let used = cur_ns.saturating_sub(prev_ns);
    used as f64 / wall_ns as f64 * 100.0
}

/// (read, write) totals of blkio entries, over every device. v1 also lists
/// Sync, Async, Discard and Total per device: only Read and Write count.
pub fn sum_blkio(entries: &[BlkioEntry]) -> (u64, u64) {
    let (mut r, mut w) = (0u64, 0u64);
    for e in entries {
        if e.op.eq_ignore_ascii_case("read") {
            r = r.saturating_add(e.value);
        } else if e.op.eq_ignore_ascii_case("write") {
            w = w.saturating_add(e.value);
        }
    }
    (r, w)
}

/// Totals over every interface of the namespace, loopback included.
pub fn sum_network(ifaces: &[NetworkInterface]) -> NetUse {
    ifaces.iter().fold(NetUse::default(), |n, i| NetUse {
        rx_bytes: n.rx_bytes.saturating_add(i.rx_bytes),
        tx_bytes: n.tx_bytes.saturating_add(i.tx_bytes),
        rx_packets: n.rx_packets.saturating_add(i.rx_packets),
        tx_packets: n.tx_packets.saturating_add(i.tx_packets),
    })
}

/// The limit that applies: the cgroup's, unless the host has less memory
/// (v1 writes "unlimited" as a huge number, v2 as "max" = u64::MAX). A
/// missing limit (0: no memory controller) is the host's memory too.
pub fn effective_limit(limit: u64, host_memory: u64) -> u64 {
    if limit == 0 || (host_memory > 0 && limit > host_memory) {
        host_memory
    } else {
        limit
    }
}

/// MemTotal of /proc/meminfo text, in bytes.
pub fn parse_mem_total(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let rest = l.strip_prefix("MemTotal:")?;
        let kb: u64 = rest.split_whitespace().next()?.parse().ok()?;
        Some(kb * 1024)
    })
}

/// The host's memory in bytes (0 when /proc/meminfo cannot be read).
pub fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| parse_mem_total(&t))
        .unwrap_or(0)
}

/// Bytes in binary units with four significant digits, as docker prints
/// them: "0B", "512B", "1.5KiB", "20MiB", "1.234GiB".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{}{}", significant(v, 4), UNITS[u])
}

/// `v` with `digits` significant digits and no trailing zeros (Go's %.4g
/// for the values human_bytes passes: 0 ≤ v < 1024).
fn significant(v: f64, digits: usize) -> String {
    let int_digits = if v < 1.0 {
        1
    } else {
        (v.log10().floor() as usize) + 1
    };
    let decimals = digits.saturating_sub(int_digits);
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Nanoseconds as a short duration: "850ms", "12.34s", "3m4.5s", "2h3m".
pub fn human_duration(ns: u64) -> String {
    let ms = ns / 1_000_000;
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = ns as f64 / 1e9;
    if secs < 60.0 {
        return format!("{secs:.2}s");
    }
    let whole = ns / 1_000_000_000;
    let (h, m) = (whole / 3600, whole / 60 % 60);
    if h > 0 {
        return format!("{h}h{m}m");
    }
    let s = secs - (whole / 60 * 60) as f64;
    format!("{m}m{s:.1}s")
}

pub const TABLE_HEADER: [&str; 8] = [
    "ID",
    "CPU %",
    "CPU TIME",
    "MEM USAGE / LIMIT",
    "MEM PEAK",
    "NET RX / TX",
    "BLOCK R / W",
    "PIDS",
];

impl Report {
    /// The table row, in TABLE_HEADER's order.
    pub fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            format!("{:.2}%", self.cpu_percent),
            human_duration(self.cpu_time_ns),
            format!(
                "{} / {}",
                human_bytes(self.memory.usage),
                human_bytes(self.memory.limit)
            ),
            if self.memory.peak == 0 {
                "--".to_string()
            } else {
                human_bytes(self.memory.peak)
            },
            format!(
                "{} / {}",
                human_bytes(self.network.rx_bytes),
                human_bytes(self.network.tx_bytes)
            ),
            format!(
                "{} / {}",
                human_bytes(self.io.read_bytes),
                human_bytes(self.io.write_bytes)
            ),
            self.pids.to_string(),
        ]
    }
}

/// Rows as left-aligned columns separated by three spaces, one line each
/// (the same layout as the other tables husk prints).
pub fn render_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, c) in cells.enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            s.push_str(&format!("{c:<w$}   "));
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for r in rows {
        line(&mut r.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::stats::MemoryEntry;

    fn entry(op: &str, value: u64) -> BlkioEntry {
        BlkioEntry {
            major: 8,
            minor: 0,
            op: op.into(),
            value,
        }
    }

    fn iface(name: &str, rx: u64, tx: u64, rxp: u64, txp: u64) -> NetworkInterface {
        NetworkInterface {
            name: name.into(),
            rx_bytes: rx,
            tx_bytes: tx,
            rx_packets: rxp,
            tx_packets: txp,
            ..Default::default()
        }
    }

    #[test]
    fn cpu_percent_is_cpu_time_over_wall_time() {
        let s = Duration::from_secs(1);
        assert_eq!(cpu_percent(0, 500_000_000, s), 50.0);
        assert_eq!(cpu_percent(1_000, 1_000, s), 0.0);
        // Two busy cpus.
        assert_eq!(
            cpu_percent(0, 400_000_000, Duration::from_millis(200)),
            200.0
        );
        assert_eq!(cpu_percent(0, 5, Duration::ZERO), 0.0);
        assert_eq!(cpu_percent(10, 5, s), 0.0, "a counter that went back");
    }

    #[test]
    fn blkio_sums_read_and_write_over_devices_only() {
        let e = [
            entry("Read", 100),
            entry("Write", 10),
            entry("Sync", 110),
            entry("Async", 0),
            entry("Total", 110),
            BlkioEntry {
                major: 253,
                ..entry("Read", 1)
            },
            entry("Discard", 7),
        ];
        assert_eq!(sum_blkio(&e), (101, 10));
        assert_eq!(sum_blkio(&[]), (0, 0));
    }

    #[test]
    fn network_sums_every_interface_including_lo() {
        let n = sum_network(&[iface("lo", 100, 100, 2, 2), iface("eth0", 5, 7, 1, 3)]);
        assert_eq!(
            n,
            NetUse {
                rx_bytes: 105,
                tx_bytes: 107,
                rx_packets: 3,
                tx_packets: 5
            }
        );
    }

    #[test]
    fn the_limit_is_capped_by_the_host() {
        let host = 2 << 30;
        assert_eq!(effective_limit(64 << 20, host), 64 << 20);
        assert_eq!(effective_limit(9_223_372_036_854_771_712, host), host);
        assert_eq!(effective_limit(u64::MAX, host), host);
        assert_eq!(effective_limit(0, host), host);
        assert_eq!(effective_limit(64 << 20, 0), 64 << 20);
    }

    #[test]
    fn meminfo_total_parses() {
        assert_eq!(
            parse_mem_total("MemTotal:        2030000 kB\nMemFree: 1 kB\n"),
            Some(2_030_000 * 1024)
        );
        assert_eq!(parse_mem_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn a_sample_takes_what_stats_says() {
        let mut s = Stats::default();
        s.cpu.usage.total = 42;
        s.memory.usage = MemoryEntry {
            limit: u64::MAX,
            usage: 30 << 20,
            max: 40 << 20,
            failcnt: 0,
        };
        s.memory.raw.insert("total_inactive_file".into(), 10 << 20);
        s.blkio.io_service_bytes_recursive = vec![entry("Read", 4096), entry("Write", 8192)];
        s.blkio.io_serviced_recursive = vec![entry("Read", 1), entry("Write", 2)];
        s.pids.current = 3;
        let sample = Sample::new(&s, &[iface("lo", 1, 2, 3, 4)], 1 << 30);
        assert_eq!(sample.cpu_ns, 42);
        assert_eq!(
            sample.memory,
            MemoryUse {
                usage: 20 << 20,
                peak: 40 << 20,
                limit: 1 << 30
            }
        );
        assert_eq!(
            sample.io,
            IoUse {
                read_bytes: 4096,
                write_bytes: 8192,
                read_ops: 1,
                write_ops: 2
            }
        );
        assert_eq!(sample.network.tx_packets, 4);
        assert_eq!(sample.pids, 3);
        // v2 names the inactive cache without "total_".
        let mut v2 = Stats::default();
        v2.memory.usage.usage = 5 << 20;
        v2.memory.raw.insert("inactive_file".into(), 1 << 20);
        assert_eq!(Sample::new(&v2, &[], 0).memory.usage, 4 << 20);
    }

    #[test]
    fn reports_serialise_with_numeric_camel_case_fields() {
        let prev = Sample {
            cpu_ns: 1_000_000_000,
            ..Default::default()
        };
        let cur = Sample {
            cpu_ns: 1_500_000_000,
            pids: 2,
            ..Default::default()
        };
        let r = cur.report("web", &prev, Duration::from_secs(1));
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["id"], "web");
        assert_eq!(v["cpuPercent"], 50.0);
        assert_eq!(v["cpuTimeNs"], 1_500_000_000u64);
        assert_eq!(v["pids"], 2);
        for k in ["usage", "peak", "limit"] {
            assert!(v["memory"][k].is_u64(), "{k}");
        }
        for k in ["readBytes", "writeBytes", "readOps", "writeOps"] {
            assert!(v["io"][k].is_u64(), "{k}");
        }
        for k in ["rxBytes", "txBytes", "rxPackets", "txPackets"] {
            assert!(v["network"][k].is_u64(), "{k}");
        }
    }

    #[test]
    fn bytes_print_in_binary_units_with_four_digits() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(512), "512B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(1024), "1KiB");
        assert_eq!(human_bytes(1536), "1.5KiB");
        assert_eq!(human_bytes(20 << 20), "20MiB");
        assert_eq!(human_bytes(1_258_291), "1.2MiB");
        assert_eq!(human_bytes((1 << 30) + (1 << 30) / 4), "1.25GiB");
        assert_eq!(human_bytes(1_234_567_890), "1.15GiB");
        assert_eq!(human_bytes(123_456_789), "117.7MiB");
        assert_eq!(human_bytes(u64::MAX), "16EiB");
    }

    #[test]
    fn durations_print_short() {
        assert_eq!(human_duration(0), "0ms");
        assert_eq!(human_duration(850_000_000), "850ms");
        assert_eq!(human_duration(12_345_000_000), "12.35s");
        assert_eq!(human_duration(184_500_000_000), "3m4.5s");
        assert_eq!(human_duration(7_380_000_000_000), "2h3m");
    }

    #[test]
    fn rows_follow_the_header() {
        let r = Report {
            id: "web".into(),
            cpu_percent: 12.345,
            cpu_time_ns: 2_000_000_000,
            memory: MemoryUse {
                usage: 1 << 20,
                peak: 0,
                limit: 64 << 20,
            },
            io: IoUse {
                read_bytes: 2048,
                ..Default::default()
            },
            network: NetUse {
                rx_bytes: 100,
                tx_bytes: 200,
                ..Default::default()
            },
            pids: 4,
        };
        let row = r.row();
        assert_eq!(row.len(), TABLE_HEADER.len());
        assert_eq!(
            row,
            [
                "web",
                "12.35%",
                "2.00s",
                "1MiB / 64MiB",
                "--",
                "100B / 200B",
                "2KiB / 0B",
                "4"
            ]
        );
    }

    #[test]
    fn tables_align_columns() {
        let t = render_table(
            &["ID", "PIDS"],
            &[
                vec!["a-long-id".into(), "1".into()],
                vec!["b".into(), "22".into()],
            ],
        );
        assert_eq!(t, "ID          PIDS\na-long-id   1\nb           22\n");
    }
}
