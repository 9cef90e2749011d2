//! Logging: human-readable by default, JSON on request; `RUST_LOG` overrides the level.
//! Colour only on a terminal. ERROR is for our faults: a client's mistake is at most a WARN.

use std::fmt;
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogConfig, LogFormat};

/// An error's causes (its `source` chain), each once, as `": cause: cause"`; empty when it
/// has none. Library errors often say only "error sending request" and keep the reason
/// ("Connection refused") in a source.
pub fn causes(e: &dyn std::error::Error) -> String {
    let mut seen: Vec<String> = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !seen.contains(&text) {
            seen.push(text);
        }
        source = s.source();
    }
    seen.iter().map(|c| format!(": {c}")).collect()
}

/// rustls warns, once per connection, about what a client put in its hello (an IP address
/// or a `host:port` as the server name): the client's quirk, not ours, and a line per
/// connection that any client can make. Unless a filter names rustls, only its errors show.
const QUIET_HANDSHAKES: &str = "rustls::msgs::handshake=error";

/// The filter: `RUST_LOG` if set, else the configured level; either with
/// [`QUIET_HANDSHAKES`] unless it says something about rustls itself.
fn filter_text(env: Option<&str>, configured: &str) -> String {
    let level = env.filter(|e| !e.trim().is_empty()).unwrap_or(configured);
    if level.contains("rustls") {
        level.to_owned()
    } else {
        format!("{level},{QUIET_HANDSHAKES}")
    }
}

/// Keeps the log writer's thread; dropping it writes out what is still queued. Hold it until
/// the process ends (`std::process::exit` runs no destructors: drop it first).
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard(#[allow(dead_code)] tracing_appender::non_blocking::WorkerGuard);

/// Installs the global subscriber. Lines are formatted on the thread that logs and written to
/// standard error by a thread of their own, so a request never waits for a `write` (or for a
/// slow pipe to a log collector); when that thread falls behind, loggers wait rather than
/// lines being lost.
pub fn init(cfg: &LogConfig) -> LogGuard {
    let env = std::env::var(EnvFilter::DEFAULT_ENV).ok();
    let filter = EnvFilter::try_new(filter_text(env.as_deref(), &cfg.level))
        .or_else(|_| EnvFilter::try_new(&cfg.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("tfmirror-log")
        .finish(std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(colour(&std::io::stderr()));
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(ClientMistakesAreWarnings);
    let _ = match cfg.format {
        LogFormat::Json => registry.with(fmt.json()).try_init(),
        LogFormat::Text => registry.with(fmt).try_init(),
    };
    LogGuard(guard)
}

/// Escape codes only for a person at a terminal (and not when `NO_COLOR` is set): in a file
/// or a pipe they are noise that breaks grep.
fn colour(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Where actix-http logs a connection that ended in an error.
const DISPATCHER: &str = "actix_http::h1::dispatcher";

/// actix-http logs every malformed request it answers 400 (a bad request line, path or
/// header, a corrupt chunked body), every request head that is too big (431), every client
/// too slow to send its head (408) and every connection the client dropped mid-request at
/// ERROR, as `stream error: ...`. Those are the client's mistakes: this layer drops them and
/// logs them again as warnings. Its other errors (a response body that failed, an internal
/// error) stay at ERROR.
struct ClientMistakesAreWarnings;

/// The prefixes of the `stream error` messages caused by the client (actix-http's
/// `DispatchError` texts for `Parse`, `Io` and `SlowRequestTimeout`).
const CLIENT_MISTAKES: [&str; 3] = [
    "stream error: request parse error: ",
    "stream error: I/O error: ",
    "stream error: request did not complete within the specified timeout",
];

impl<S: Subscriber> Layer<S> for ClientMistakesAreWarnings {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        let meta = event.metadata();
        if *meta.level() != Level::ERROR || meta.target() != DISPATCHER {
            return true;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let Some(prefix) = CLIENT_MISTAKES
            .iter()
            .find(|prefix| message.0.starts_with(*prefix))
        else {
            return true;
        };
        let detail = message.0.strip_prefix("stream error: ").unwrap_or(prefix);
        // Logged again through the global subscriber (the one `init` installs); it passes
        // the same filter, at WARN, under the same target.
        tracing::warn!(target: DISPATCHER, error = %detail, "connection ended by a client error");
        false
    }
}

/// The `message` of an event, as text.
struct Message(String);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            use fmt::Write;
            let _ = write!(self.0, "{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::filter_text;

    #[test]
    fn handshake_warnings_are_quiet_unless_a_filter_names_rustls() {
        assert_eq!(
            filter_text(None, "info"),
            "info,rustls::msgs::handshake=error"
        );
        assert_eq!(
            filter_text(Some("warn"), "info"),
            "warn,rustls::msgs::handshake=error"
        );
        assert_eq!(
            filter_text(Some(""), "debug"),
            "debug,rustls::msgs::handshake=error"
        );
        assert_eq!(
            filter_text(Some("rustls=debug,info"), "info"),
            "rustls=debug,info"
        );
    }
}
