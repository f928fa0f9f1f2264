//! The facts a plan is made from and an apply re-checks against: plain data, gathered by
//! [`super::engine`] (the engine API) and [`super::orphans`] (the data root), decided on by the pure
//! [`super::plan`] and [`super::recheck`]. Times are seconds since the epoch (UTC).

use std::collections::BTreeMap;

/// One image, as the engine knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFact {
    /// `sha256:<hex>` id.
    pub id: String,
    /// `repo:tag` references.
    pub tags: Vec<String>,
    /// The engine's `ParentId` (classic builder intermediates).
    pub parent: Option<String>,
    /// Creation time (never used as "age": only to rank within a repository).
    pub created: i64,
    /// Labels of its config.
    pub labels: BTreeMap<String, String>,
    /// Chain ids (bare hex) of its layers, base first; on the containerd image store, the content
    /// blobs and snapshot directories it reaches (`blob:HEX`, `snapshot:N`, see [`super::store`]).
    pub chain: Vec<String>,
    /// On the containerd image store: the unexpired lease that holds some of its content (a pull or
    /// load under way, or a lease that never expires), said as a reason to leave it.
    pub held_by_lease: Option<String>,
}

/// One container, as the engine knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerFact {
    /// Full id.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// `sha256:` id of its image.
    pub image: String,
    /// Running, paused, restarting, or being removed: anything but created/exited/dead.
    pub active: bool,
    /// `State.Status` (`created`, `exited`, `running`, …).
    pub status: String,
    /// `State.StartedAt` (None: never started).
    pub started_at: Option<i64>,
    /// `State.FinishedAt` (None: never finished).
    pub finished_at: Option<i64>,
    /// `Created`.
    pub created: i64,
    /// Names of the volumes it mounts.
    pub volumes: Vec<String>,
    /// Bytes its deletion frees: its writable layer (`SizeRw`) and its log files.
    pub bytes: u64,
    /// Bytes of its log files (json-file's log and rotations, the local driver's `local-logs/`).
    pub log_bytes: u64,
    /// Its log driver (`json-file`, `local`, …).
    pub log_driver: String,
    /// Its `log-opts`.
    pub log_opts: BTreeMap<String, String>,
    /// The log file the driver writes now (json-file's `LogPath`, the local driver's
    /// `local-logs/container.log`), where it is a regular file.
    pub log_file: Option<LogFile>,
}

/// The log file a container's json-file or local driver writes now (rotated files aside).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFile {
    /// Its path.
    pub path: String,
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino` (a rotation puts another file behind the path).
    pub inode: u64,
    /// `st_size`: the log content truncation discards.
    pub size: u64,
    /// Allocated bytes (`st_blocks × 512`): what truncation frees.
    pub allocated: u64,
}

/// The path of the log file a container's driver writes now: json-file's `LogPath`; the local
/// driver's `<data-root>/containers/<id>/local-logs/container.log` (the engine gives no `LogPath` for
/// it); None for other drivers (their logs are not files of the data root). Pure.
pub fn live_log_path(driver: &str, log_path: &str, data_root: &str, id: &str) -> Option<String> {
    match driver {
        "json-file" if !log_path.is_empty() => Some(log_path.to_string()),
        "local" if !data_root.is_empty() && crate::model::dataroot::is_hex64(id) => Some(format!(
            "{}/containers/{id}/local-logs/container.log",
            data_root.trim_end_matches('/')
        )),
        _ => None,
    }
}

/// One volume, as the engine knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeFact {
    /// Name.
    pub name: String,
    /// Anonymous: the `com.docker.volume.anonymous` label (API 1.42+) or a 64-hex name.
    pub anonymous: bool,
    /// `CreatedAt` as the engine gives it (compared verbatim: a new volume behind the same name).
    pub created_at: String,
    /// Bytes of `_data` (`UsageData.Size`, 0 when not computed).
    pub bytes: u64,
}

/// One build-cache record (`/system/df` `BuildCache[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildRecord {
    /// Record id.
    pub id: String,
    /// `Size`.
    pub bytes: u64,
    /// `InUse`: a build uses it now.
    pub in_use: bool,
    /// `Shared`: its data is an image layer too (deleting it frees nothing).
    pub shared: bool,
    /// `LastUsedAt`, else `CreatedAt` (seconds since the epoch).
    pub last_used: Option<i64>,
    /// `Description`.
    pub description: String,
}

/// An orphan of the data root, as the audit (`dredge df`) found it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrphanFact {
    /// The main path.
    pub path: String,
    /// Other paths that belong to it (its layerdb or mounts record).
    pub also: Vec<String>,
    /// The audit's kind (`unreferenced-dir`, …).
    pub kind: String,
    /// Allocated bytes.
    pub bytes: u64,
    /// Newest modification time inside, nanoseconds since the epoch.
    pub modified_ns: Option<i64>,
    /// A layer chain with a complete layerdb record: the running daemon may adopt it again, so it is
    /// removed only with the daemon stopped.
    pub needs_daemon_stopped: bool,
}

/// A container holding deleted files (or whose deleted log dockerd holds), as the engine knows it now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeldContainer {
    /// Full id.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// `State.Running`.
    pub running: bool,
    /// `State.StartedAt`, verbatim (a restart changes it).
    pub started_at: String,
    /// `HostConfig.RestartPolicy.Name` (`""`, `no`, `always`, `unless-stopped`, `on-failure`).
    pub restart_policy: String,
    /// `HostConfig.LogConfig.Type` (`json-file`, `local`, …).
    pub log_driver: String,
    /// `LogPath` (json-file's log; empty for other drivers).
    pub log_path: String,
}

impl HeldContainer {
    /// True when the engine restarts it by itself (a policy other than `no`).
    pub fn has_restart_policy(&self) -> bool {
        !matches!(self.restart_policy.as_str(), "" | "no")
    }
}

/// Everything one planning or re-check looks at.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The engine's `ID` (`/info`), or `offline` without an engine.
    pub engine_id: String,
    /// The data root (`DockerRootDir`, or `--data-root`).
    pub data_root: String,
    /// Now, seconds since the epoch.
    pub now: i64,
    /// Now, nanoseconds since the epoch, taken once the orphans were measured: their grace period is
    /// measured from it, to the nanosecond (see [`super::recheck::past_grace`]).
    pub now_ns: i64,
    /// Images (with intermediates).
    pub images: Vec<ImageFact>,
    /// Containers, running or not.
    pub containers: Vec<ContainerFact>,
    /// Volumes.
    pub volumes: Vec<VolumeFact>,
    /// Layer sizes by chain id (layerdb `size`), where readable; on the containerd image store,
    /// allocated bytes of each blob and snapshot directory an image reaches.
    pub layer_bytes: BTreeMap<String, u64>,
    /// On the containerd image store: parts of `layer_bytes` that something other than an image
    /// holds (a lease, a containerd container record), with the container id when it is a
    /// container's: they are freed only if that container goes too, and never otherwise.
    pub held_parts: Vec<(Option<String>, Vec<String>)>,
    /// Last use of images kept across runs (see [`super::state`]): id → seconds.
    pub last_used: BTreeMap<String, i64>,
    /// Build-cache records (only gathered with `--build-cache*`).
    pub build_cache: Vec<BuildRecord>,
    /// Orphans (only gathered with `--orphans`).
    pub orphans: Vec<OrphanFact>,
    /// Deleted files still held open (only gathered with `--held`), as `dredge df` finds them.
    pub held: Vec<crate::model::held::HeldFile>,
    /// The containers those files belong to, by id (only gathered with `--held`).
    pub held_containers: BTreeMap<String, HeldContainer>,
    /// Start time (`/proc/PID/stat` field 22, clock ticks since boot) of each holding process.
    pub proc_start: BTreeMap<u32, u64>,
}

impl Facts {
    /// The image with this id.
    pub fn image(&self, id: &str) -> Option<&ImageFact> {
        self.images.iter().find(|i| i.id == id)
    }
    /// The image a tag names now.
    pub fn image_tagged(&self, tag: &str) -> Option<&ImageFact> {
        self.images.iter().find(|i| i.tags.iter().any(|t| t == tag))
    }
    /// The container with this id.
    pub fn container(&self, id: &str) -> Option<&ContainerFact> {
        self.containers.iter().find(|c| c.id == id)
    }
    /// The volume with this name.
    pub fn volume(&self, name: &str) -> Option<&VolumeFact> {
        self.volumes.iter().find(|v| v.name == name)
    }
    /// The last use of an image: the newest start or finish of any container made from it, else what
    /// the state file remembers (the first time dredge saw it, or a container's use it saw earlier).
    pub fn last_use(&self, image: &str) -> Option<i64> {
        let from_containers = self
            .containers
            .iter()
            .filter(|c| c.image == image)
            .flat_map(|c| [c.started_at, c.finished_at, Some(c.created)])
            .flatten()
            .max();
        from_containers.max(self.last_used.get(image).copied())
    }
}

/// Parses an RFC 3339 time as the engine writes it (`2026-12-01T14:45:54.123456789Z`, or with an
/// offset). Docker's "never" (`0001-01-01T00:00:00Z`) and anything unparsable give None.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if y <= 1 || !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        rest = &r[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let oh: i64 = o.get(1..3)?.parse().ok()?;
            let om: i64 = o.get(4..6)?.parse().ok()?;
            let v = oh * 3600 + om * 60;
            if o.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats seconds since the epoch as RFC 3339 UTC (`2026-12-01T14:45:54Z`).
pub fn format_time(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Inverse of days_from_civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Parses a duration: a number and a unit, `s`, `m`, `h`, `d` or `w` (`90s`, `30m`, `12h`, `7d`);
/// several may follow each other (`1h30m`). Seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let bad = || format!("'{s}' is not a duration (like 90s, 30m, 12h, 7d, 2w, 1h30m)");
    let mut total: u64 = 0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(bad());
        }
        let v: u64 = rest[..n].parse().map_err(|_| bad())?;
        let unit = rest[n..].chars().next().ok_or_else(bad)?;
        let mul = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        total = v
            .checked_mul(mul)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(bad)?;
        rest = &rest[n + 1..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_the_engine_writes_them() {
        // date -u -d 2026-12-01T14:45:54Z +%s
        assert_eq!(parse_time("2026-12-01T14:45:54Z"), Some(1_796_136_354));
        assert_eq!(
            parse_time("2026-12-01T14:45:54.123456789Z"),
            Some(1_796_136_354)
        );
        assert_eq!(parse_time("2026-12-01T15:45:54+01:00"), Some(1_796_136_354));
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_time("garbage"), None);
        assert_eq!(parse_time("2026-13-01T00:00:00Z"), None);
        assert_eq!(format_time(1_796_136_354), "2026-12-01T14:45:54Z");
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        // 2024-02-29 (leap day): date -u -d 2024-02-29T00:00:00Z +%s
        assert_eq!(parse_time("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        assert_eq!(format_time(1_709_164_800), "2024-02-29T00:00:00Z");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert_eq!(parse_duration("2w"), Ok(1_209_600));
        assert_eq!(parse_duration("0s"), Ok(0));
        for bad in ["", "7", "d", "7x", "-1h", "1.5h", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn last_use_is_the_newest_container_time_else_the_state() {
        let mut f = Facts::default();
        f.last_used.insert("sha256:a".into(), 100);
        assert_eq!(f.last_use("sha256:a"), Some(100));
        assert_eq!(f.last_use("sha256:b"), None);
        f.containers.push(ContainerFact {
            image: "sha256:a".into(),
            created: 50,
            started_at: Some(150),
            finished_at: Some(200),
            ..Default::default()
        });
        assert_eq!(f.last_use("sha256:a"), Some(200));
    }
}
