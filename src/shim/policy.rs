//! What the shim does for a container: restart policy, stop signal and
//! timeout, health check, log rotation. Set by flags on create/run or by
//! `husk.*` annotations in config.json (flags win), so a bundle can carry
//! its own policy. Pure parsing.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::units::{parse_duration, parse_size};

/// The annotation keys (documented in README.md).
pub mod keys {
    pub const RESTART: &str = "husk.restart";
    pub const STOP_SIGNAL: &str = "husk.stop-signal";
    pub const STOP_TIMEOUT: &str = "husk.stop-timeout";
    pub const HEALTH_CMD: &str = "husk.health-cmd";
    pub const HEALTH_TCP: &str = "husk.health-tcp";
    pub const HEALTH_HTTP: &str = "husk.health-http";
    pub const HEALTH_FILE: &str = "husk.health-file";
    pub const HEALTH_INTERVAL: &str = "husk.health-interval";
    pub const HEALTH_TIMEOUT: &str = "husk.health-timeout";
    pub const HEALTH_RETRIES: &str = "husk.health-retries";
    pub const HEALTH_START_PERIOD: &str = "husk.health-start-period";
    pub const LOG_MAX_SIZE: &str = "husk.log-max-size";
    pub const LOG_MAX_FILES: &str = "husk.log-max-files";
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("invalid {field} {value:?}: {why}")]
    Invalid {
        field: String,
        value: String,
        why: String,
    },
}

fn invalid(field: &str, value: &str, why: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        field: field.into(),
        value: value.into(),
        why: why.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case", tag = "policy")]
pub enum Restart {
    #[default]
    No,
    /// Restart after a non-zero exit, at most `max` times (0 = no limit).
    OnFailure {
        max: u32,
    },
    Always,
    UnlessStopped,
}

impl Restart {
    pub fn parse(s: &str) -> Result<Restart, PolicyError> {
        let bad = |why: &str| invalid("restart policy", s, why);
        Ok(match s.split_once(':') {
            None => match s {
                "no" | "" => Restart::No,
                "on-failure" => Restart::OnFailure { max: 0 },
                "always" => Restart::Always,
                "unless-stopped" => Restart::UnlessStopped,
                _ => return Err(bad("use no, on-failure[:N], always or unless-stopped")),
            },
            Some(("on-failure", n)) => Restart::OnFailure {
                max: n
                    .parse()
                    .map_err(|_| bad("the retry limit must be a number"))?,
            },
            Some(_) => return Err(bad("only on-failure takes a retry limit")),
        })
    }

    pub fn as_string(&self) -> String {
        match self {
            Restart::No => "no".into(),
            Restart::OnFailure { max: 0 } => "on-failure".into(),
            Restart::OnFailure { max } => format!("on-failure:{max}"),
            Restart::Always => "always".into(),
            Restart::UnlessStopped => "unless-stopped".into(),
        }
    }

    /// Should the shim restart a container that ended with `code` (None:
    /// killed by a signal), after `restarts` restarts so far? A stop the
    /// user asked for never restarts.
    pub fn wants_restart(&self, code: Option<i32>, user_stopped: bool, restarts: u32) -> bool {
        if user_stopped {
            return false;
        }
        match self {
            Restart::No => false,
            Restart::OnFailure { max } => code != Some(0) && (*max == 0 || restarts < *max),
            Restart::Always | Restart::UnlessStopped => true,
        }
    }
}

/// The first restart waits this long; each next one twice as long.
pub const BACKOFF_START: Duration = Duration::from_millis(100);
/// The longest wait; a run longer than this resets the backoff.
pub const BACKOFF_CAP: Duration = Duration::from_secs(10);

/// The delay before restart number `attempt` (1-based).
pub fn backoff(attempt: u32) -> Duration {
    let shift = attempt.saturating_sub(1).min(20);
    BACKOFF_START.saturating_mul(1 << shift).min(BACKOFF_CAP)
}

/// How the shim checks health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "target")]
pub enum Probe {
    /// A shell command run in the container (`sh -c CMD`); exit 0 = healthy.
    Cmd(String),
    /// A TCP connect to 127.0.0.1:PORT in the container's network namespace.
    Tcp(u16),
    /// An HTTP GET in the container's network namespace; 2xx/3xx = healthy.
    Http(String),
    /// A path that must exist inside the container.
    File(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub probe: Probe,
    #[serde(with = "millis")]
    pub interval: Duration,
    #[serde(with = "millis")]
    pub timeout: Duration,
    /// Consecutive failures that make the container unhealthy.
    pub retries: u32,
    /// Failures during this time after start do not count.
    #[serde(with = "millis")]
    pub start_period: Duration,
}

/// The whole policy, stored in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub restart: Restart,
    /// Signal number `stop` sends first.
    pub stop_signal: i32,
    #[serde(with = "millis")]
    pub stop_timeout: Duration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// Rotate a log file when it reaches this many bytes.
    pub log_max_size: u64,
    /// Rotated files kept besides the current one.
    pub log_max_files: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            restart: Restart::No,
            stop_signal: libc::SIGTERM,
            stop_timeout: Duration::from_secs(10),
            health: None,
            log_max_size: 10 << 20,
            log_max_files: 3,
        }
    }
}

/// Policy settings as strings, from flags or annotations (same names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub restart: Option<String>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<String>,
    pub health_cmd: Option<String>,
    pub health_tcp: Option<String>,
    pub health_http: Option<String>,
    pub health_file: Option<String>,
    pub health_interval: Option<String>,
    pub health_timeout: Option<String>,
    pub health_retries: Option<String>,
    pub health_start_period: Option<String>,
    pub log_max_size: Option<String>,
    pub log_max_files: Option<String>,
}

impl Settings {
    /// The `husk.*` annotations of a config.
    pub fn from_annotations(a: &BTreeMap<String, String>) -> Settings {
        let g = |k: &str| a.get(k).cloned();
        Settings {
            restart: g(keys::RESTART),
            stop_signal: g(keys::STOP_SIGNAL),
            stop_timeout: g(keys::STOP_TIMEOUT),
            health_cmd: g(keys::HEALTH_CMD),
            health_tcp: g(keys::HEALTH_TCP),
            health_http: g(keys::HEALTH_HTTP),
            health_file: g(keys::HEALTH_FILE),
            health_interval: g(keys::HEALTH_INTERVAL),
            health_timeout: g(keys::HEALTH_TIMEOUT),
            health_retries: g(keys::HEALTH_RETRIES),
            health_start_period: g(keys::HEALTH_START_PERIOD),
            log_max_size: g(keys::LOG_MAX_SIZE),
            log_max_files: g(keys::LOG_MAX_FILES),
        }
    }

    /// `self` with every setting `over` has replaced.
    pub fn overlaid(mut self, over: Settings) -> Settings {
        macro_rules! take {
            ($($f:ident),*) => { $( if over.$f.is_some() { self.$f = over.$f; } )* };
        }
        take!(
            restart,
            stop_signal,
            stop_timeout,
            health_cmd,
            health_tcp,
            health_http,
            health_file,
            health_interval,
            health_timeout,
            health_retries,
            health_start_period,
            log_max_size,
            log_max_files
        );
        self
    }

    /// Validates and converts; every error names the setting and its value.
    pub fn policy(&self) -> Result<Policy, PolicyError> {
        let mut p = Policy::default();
        if let Some(r) = &self.restart {
            p.restart = Restart::parse(r)?;
        }
        if let Some(s) = &self.stop_signal {
            p.stop_signal =
                crate::signal::parse(s).map_err(|e| invalid("stop signal", s, e.to_string()))?;
        }
        let dur = |field: &str, v: &Option<String>, d: Duration| -> Result<Duration, PolicyError> {
            match v {
                Some(s) => parse_duration(s).map_err(|e| invalid(field, s, e.to_string())),
                None => Ok(d),
            }
        };
        p.stop_timeout = dur("stop timeout", &self.stop_timeout, p.stop_timeout)?;
        let probes: Vec<Probe> = [
            self.health_cmd.clone().map(Probe::Cmd),
            self.health_tcp
                .as_ref()
                .map(|t| {
                    t.parse::<u16>()
                        .ok()
                        .filter(|p| *p > 0)
                        .map(Probe::Tcp)
                        .ok_or_else(|| invalid("health tcp port", t, "use a port number 1-65535"))
                })
                .transpose()?,
            self.health_http
                .as_ref()
                .map(|u| {
                    if u.starts_with("http://") {
                        Ok(Probe::Http(u.clone()))
                    } else {
                        Err(invalid(
                            "health http url",
                            u,
                            "use http://HOST:PORT/PATH (plain HTTP)",
                        ))
                    }
                })
                .transpose()?,
            self.health_file.clone().map(Probe::File),
        ]
        .into_iter()
        .flatten()
        .collect();
        if probes.len() > 1 {
            return Err(invalid(
                "health check",
                &format!("{probes:?}"),
                "give only one of --health-cmd, --health-tcp, --health-http, --health-file",
            ));
        }
        let has_timing = self.health_interval.is_some()
            || self.health_timeout.is_some()
            || self.health_retries.is_some()
            || self.health_start_period.is_some();
        match probes.into_iter().next() {
            Some(probe) => {
                let interval = dur("health interval", &self.health_interval, Duration::from_secs(30))?;
                let timeout = dur("health timeout", &self.health_timeout, Duration::from_secs(30))?;
                if interval.is_zero() {
                    return Err(invalid("health interval", self.health_interval.as_deref().unwrap_or(""), "must be more than zero"));
                }
                let retries = match &self.health_retries {
                    Some(r) => r.parse().ok().filter(|n| *n > 0).ok_or_else(|| invalid("health retries", r, "use a number of at least 1"))?,
                    None => 3,
                };
                p.health = Some(Health {
                    probe,
                    interval,
                    timeout,
                    retries,
                    start_period: dur("health start period", &self.health_start_period, Duration::ZERO)?,
                });
            }
            None if has_timing => {
                return Err(invalid("health check", "", "health timing was given without --health-cmd, --health-tcp, --health-http or --health-file"))
            }
            None => {}
        }
        if let Some(s) = &self.log_max_size {
            let n = parse_size(s).map_err(|e| invalid("log max size", s, e.to_string()))?;
            if n < 1024 {
                return Err(invalid("log max size", s, "must be at least 1k"));
            }
            p.log_max_size = n as u64;
        }
        if let Some(s) = &self.log_max_files {
            p.log_max_files = s
                .parse()
                .map_err(|_| invalid("log max files", s, "use a number"))?;
        }
        Ok(p)
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_parse() {
        assert_eq!(Restart::parse("no"), Ok(Restart::No));
        assert_eq!(
            Restart::parse("on-failure"),
            Ok(Restart::OnFailure { max: 0 })
        );
        assert_eq!(
            Restart::parse("on-failure:2"),
            Ok(Restart::OnFailure { max: 2 })
        );
        assert_eq!(Restart::parse("always"), Ok(Restart::Always));
        assert_eq!(Restart::parse("unless-stopped"), Ok(Restart::UnlessStopped));
        for bad in ["sometimes", "on-failure:x", "always:3"] {
            assert!(Restart::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Restart::OnFailure { max: 2 }.as_string(), "on-failure:2");
    }

    #[test]
    fn restart_decisions() {
        let f2 = Restart::OnFailure { max: 2 };
        assert!(f2.wants_restart(Some(1), false, 0));
        assert!(f2.wants_restart(None, false, 1));
        assert!(!f2.wants_restart(Some(1), false, 2), "retry limit reached");
        assert!(
            !f2.wants_restart(Some(0), false, 0),
            "success is not a failure"
        );
        assert!(Restart::Always.wants_restart(Some(0), false, 100));
        assert!(
            !Restart::Always.wants_restart(Some(0), true, 0),
            "a user stop wins"
        );
        assert!(!Restart::UnlessStopped.wants_restart(None, true, 0));
        assert!(!Restart::No.wants_restart(Some(1), false, 0));
    }

    #[test]
    fn backoff_doubles_from_100ms_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(3), Duration::from_millis(400));
        assert_eq!(backoff(30), BACKOFF_CAP);
    }

    #[test]
    fn flags_override_annotations() {
        let ann = BTreeMap::from([
            (keys::RESTART.to_string(), "always".to_string()),
            (keys::STOP_TIMEOUT.to_string(), "3s".to_string()),
        ]);
        let flags = Settings {
            restart: Some("on-failure:5".into()),
            ..Default::default()
        };
        let p = Settings::from_annotations(&ann)
            .overlaid(flags)
            .policy()
            .unwrap();
        assert_eq!(p.restart, Restart::OnFailure { max: 5 });
        assert_eq!(p.stop_timeout, Duration::from_secs(3));
    }

    #[test]
    fn health_settings_are_validated() {
        let s = Settings {
            health_tcp: Some("8080".into()),
            health_interval: Some("500ms".into()),
            health_retries: Some("2".into()),
            ..Default::default()
        };
        let h = s.policy().unwrap().health.unwrap();
        assert_eq!(h.probe, Probe::Tcp(8080));
        assert_eq!(h.interval, Duration::from_millis(500));
        assert_eq!(h.retries, 2);
        let two = Settings {
            health_tcp: Some("80".into()),
            health_file: Some("/ready".into()),
            ..Default::default()
        };
        assert!(two.policy().unwrap_err().to_string().contains("only one"));
        let timing_only = Settings {
            health_interval: Some("1s".into()),
            ..Default::default()
        };
        assert!(timing_only.policy().is_err());
        let bad_port = Settings {
            health_tcp: Some("http".into()),
            ..Default::default()
        };
        assert!(bad_port
            .policy()
            .unwrap_err()
            .to_string()
            .contains("health tcp port"));
    }

    #[test]
    fn policy_round_trips_through_json() {
        let s = Settings {
            restart: Some("on-failure:2".into()),
            health_cmd: Some("test -e /ok".into()),
            log_max_size: Some("64k".into()),
            ..Default::default()
        };
        let p = s.policy().unwrap();
        let back: Policy = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        assert_eq!(p.log_max_size, 64 << 10);
    }
}
