//! Prometheus metrics in the text exposition format, kept in memory (atomics and one small
//! map) and rendered at scrape time together with a few database gauges.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    /// (route, method, status) -> latency histogram. Every part comes from a closed set
    /// (`route_class`, `method_label`, the statuses the server answers with), so no request
    /// can add a series: labels must never be copied from what a client sent.
    requests: Mutex<BTreeMap<(&'static str, &'static str, u16), Histogram>>,
    /// Archive bytes sent to clients (full and partial downloads).
    pub bytes_served: AtomicU64,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    /// Full downloads of module archives.
    pub module_downloads: AtomicU64,
    /// The last `verify` run in this process: when, and what it found.
    pub verify_last_run: AtomicU64,
    pub verify_missing: AtomicU64,
    pub verify_corrupt: AtomicU64,
    pub verify_orphaned: AtomicU64,
}

impl Metrics {
    pub fn observe(&self, route: &'static str, method: &'static str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        let mut map = self.requests.lock().expect("metrics lock");
        let h = map.entry((route, method, status)).or_default();
        h.count += 1;
        h.sum += secs;
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.counts[i] += 1;
            }
        }
    }

    /// The in-memory series; the caller appends the database gauges.
    pub fn render(&self, out: &mut String) {
        let map = self.requests.lock().expect("metrics lock").clone();
        let _ = writeln!(
            out,
            "# HELP tfmirror_http_requests_total HTTP requests by route class, method and status."
        );
        let _ = writeln!(out, "# TYPE tfmirror_http_requests_total counter");
        for ((route, method, status), h) in &map {
            let _ = writeln!(
                out,
                "tfmirror_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP tfmirror_http_request_duration_seconds Time to the response head."
        );
        let _ = writeln!(
            out,
            "# TYPE tfmirror_http_request_duration_seconds histogram"
        );
        let mut by_route: BTreeMap<(&str, &str), Histogram> = BTreeMap::new();
        for ((route, method, _), h) in &map {
            let agg = by_route.entry((route, method)).or_default();
            agg.count += h.count;
            agg.sum += h.sum;
            for i in 0..BUCKETS.len() {
                agg.counts[i] += h.counts[i];
            }
        }
        for ((route, method), h) in &by_route {
            let labels = format!("route=\"{route}\",method=\"{method}\"");
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "tfmirror_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "tfmirror_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "tfmirror_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "tfmirror_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        counter(
            out,
            "tfmirror_bytes_served_total",
            "Archive bytes sent to clients.",
            self.bytes_served.load(Relaxed),
        );
        counter(
            out,
            "tfmirror_metadata_cache_hits_total",
            "Provider metadata answered from memory.",
            self.cache_hits.load(Relaxed),
        );
        counter(
            out,
            "tfmirror_metadata_cache_misses_total",
            "Provider metadata read from the database.",
            self.cache_misses.load(Relaxed),
        );
        counter(
            out,
            "tfmirror_module_downloads_total",
            "Full downloads of module archives.",
            self.module_downloads.load(Relaxed),
        );
        family(
            out,
            "tfmirror_verify_last_run_timestamp_seconds",
            "gauge",
            "When the last storage verification finished (0: none since start).",
            [(String::new(), self.verify_last_run.load(Relaxed))],
        );
        family(
            out,
            "tfmirror_verify_problems",
            "gauge",
            "What the last storage verification found, by kind.",
            [
                ("kind=\"missing\"", &self.verify_missing),
                ("kind=\"corrupt\"", &self.verify_corrupt),
                ("kind=\"orphaned\"", &self.verify_orphaned),
            ]
            .map(|(k, v)| (k.to_owned(), v.load(Relaxed))),
        );
    }
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    family(out, name, "counter", help, [(String::new(), value)]);
}

/// One metric family: its `HELP` and `TYPE` lines, then a sample per (labels, value), where
/// labels are like `upstream="x"` (empty for none).
pub fn family<V: std::fmt::Display>(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    samples: impl IntoIterator<Item = (String, V)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// The coarse class of a request path, the `route` label (bounded cardinality: never the
/// raw path).
/// A request method as a label: the methods HTTP defines, `OTHER` for anything a client
/// made up.
pub fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("OTHER")
}

pub fn route_class(path: &str) -> &'static str {
    if path == "/healthz" || path == "/readyz" {
        return "health";
    }
    if path == "/metrics" {
        return "metrics";
    }
    if path.starts_with("/api/") {
        return "api";
    }
    if path == "/" || path == "/ui" || path.starts_with("/ui/") {
        return "ui";
    }
    if (path.starts_with("/v1/modules/") || path.starts_with("/registry/"))
        && path.ends_with("/archive.tar.gz")
    {
        return "module_archive";
    }
    if path.starts_with("/v1/")
        || path.starts_with("/registry/")
        || path.starts_with("/.well-known/")
    {
        return "registry";
    }
    if path.ends_with("/index.json") {
        "mirror_index"
    } else if path.ends_with(".json") {
        "mirror_version"
    } else if path.ends_with(".zip") {
        "mirror_archive"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_routes_are_classes() {
        let m = Metrics::default();
        m.observe("mirror_index", "GET", 200, Duration::from_millis(3));
        m.observe("mirror_index", "GET", 200, Duration::from_millis(300));
        m.observe("mirror_index", "GET", 404, Duration::from_millis(3));
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains(
            "tfmirror_http_requests_total{route=\"mirror_index\",method=\"GET\",status=\"200\"} 2"
        ));
        assert!(out.contains(
            "tfmirror_http_request_duration_seconds_bucket{route=\"mirror_index\",method=\"GET\",le=\"0.005\"} 2"
        ));
        assert!(out.contains(
            "tfmirror_http_request_duration_seconds_bucket{route=\"mirror_index\",method=\"GET\",le=\"0.5\"} 3"
        ));
        assert_eq!(
            route_class("/registry.terraform.io/hashicorp/null/index.json"),
            "mirror_index"
        );
        assert_eq!(
            route_class("/registry.terraform.io/hashicorp/null/1.0.0.json"),
            "mirror_version"
        );
        assert_eq!(route_class("/api/v1/jobs/3"), "api");
        assert_eq!(
            route_class("/v1/providers/hashicorp/null/versions"),
            "registry"
        );
    }
}
