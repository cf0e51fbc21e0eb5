//! Small text helpers shared by the app and the views.

use mirage_proto::v1::{JobKind, JobStatus, NodeRole};

/// A job kind's short name.
pub fn job_kind(kind: i32) -> &'static str {
    match JobKind::try_from(kind) {
        Ok(JobKind::Ingest) => "ingest",
        Ok(JobKind::Train) => "train",
        Ok(JobKind::Generate) => "generate",
        Ok(JobKind::Assess) => "assess",
        _ => "job",
    }
}

/// A job status's short name.
pub fn job_status(status: i32) -> &'static str {
    match JobStatus::try_from(status) {
        Ok(JobStatus::Queued) => "queued",
        Ok(JobStatus::Running) => "running",
        Ok(JobStatus::Succeeded) => "succeeded",
        Ok(JobStatus::Failed) => "failed",
        Ok(JobStatus::Cancelled) => "cancelled",
        _ => "unknown",
    }
}

/// A node role's name.
pub fn node_role(role: i32) -> &'static str {
    match NodeRole::try_from(role) {
        Ok(NodeRole::Leader) => "leader",
        Ok(NodeRole::Follower) => "follower",
        Ok(NodeRole::Learner) => "learner",
        _ => "unknown",
    }
}

/// An object id shortened for tables: the prefix and the first 8 characters after it
/// (`job_3f2a9c1b`).
pub fn short_id(id: &str) -> String {
    match id.split_once('_') {
        Some((prefix, rest)) => {
            let head: String = rest.chars().take(8).collect();
            format!("{prefix}_{head}")
        }
        None => id.chars().take(12).collect(),
    }
}

/// Whether any of `fields` contains `filter` (case-insensitive); an empty filter matches.
pub fn matches(filter: &str, fields: &[&str]) -> bool {
    let filter = filter.trim().to_lowercase();
    filter.is_empty()
        || fields
            .iter()
            .any(|field| field.to_lowercase().contains(&filter))
}

/// A text bar `width` cells wide, filled to `ratio` (clamped to 0–1) with `█`, the rest `░`.
pub fn bar(ratio: f64, width: usize) -> String {
    let ratio = if ratio.is_finite() {
        ratio.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let filled = (ratio * width as f64).round() as usize;
    let mut text = "█".repeat(filled.min(width));
    text.push_str(&"░".repeat(width - filled.min(width)));
    text
}

/// Bytes in binary units (`4.0 GiB`).
pub fn bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A duration in seconds as `1h02m`, `3m05s` or `42s`.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "?".into();
    }
    let total = seconds.round() as u64;
    let (hours, minutes, secs) = (total / 3600, (total / 60) % 60, total % 60);
    if hours > 0 {
        format!("{hours}h{minutes:02}m")
    } else if minutes > 0 {
        format!("{minutes}m{secs:02}s")
    } else {
        format!("{secs}s")
    }
}

/// The UTC time of day of `at_ms` as `HH:MM:SS`.
pub fn clock(at_ms: i64) -> String {
    let seconds = at_ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        (seconds / 60) % 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_format_as_documented() {
        assert_eq!(short_id("job_3f2a9c1b00112233"), "job_3f2a9c1b");
        assert_eq!(bar(0.5, 10), "█████░░░░░");
        assert_eq!(bar(2.0, 4), "████");
        assert_eq!(bar(f64::NAN, 3), "░░░");
        assert_eq!(bytes(4 * 1024 * 1024 * 1024), "4.0 GiB");
        assert_eq!(duration(185.0), "3m05s");
        assert_eq!(clock(3_723_000), "01:02:03");
        assert!(matches("LEAD", &["node 1", "leader"]));
        assert!(!matches("x", &["node"]));
    }
}
