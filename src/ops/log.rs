//! Where the binary logs (`logfile`: a file opened for appending, as Redis
//! does, or standard output when "") and how (`log-format`: tracing's text
//! lines, or one JSON object a line for platforms that parse logs).

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the global subscriber. `level` is a `tracing` filter (the
/// `KEYWARD_LOG` variable overrides it). Fails only when `logfile` cannot
/// be opened, with Redis's words.
pub fn init(level: &str, logfile: &str, format: &str) -> Result<(), String> {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("KEYWARD_LOG").unwrap_or_else(|_| level.into());
    let file = if logfile.is_empty() {
        None
    } else {
        Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(logfile)
                .map_err(|e| format!("Can't open the log file: {e}"))?,
        )
    };
    // A log line that cannot be written (a full disk, a closed pipe) is
    // lost, as in Redis; the default would panic the thread that logged,
    // which may be the one reporting an AOF write error.
    let builder = tracing_subscriber::fmt()
        .log_internal_errors(false)
        .with_env_filter(filter);
    let json = format == "json";
    match (file, json) {
        (Some(f), false) => builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(f))
            .init(),
        (Some(f), true) => builder
            .event_format(Json)
            .with_writer(std::sync::Mutex::new(f))
            .init(),
        (None, false) => builder.init(),
        (None, true) => builder.event_format(Json).init(),
    }
    Ok(())
}

/// `{"ts":"2024-05-01T10:00:00.123456Z","level":"INFO","target":"keyward::server","message":"…","fields":{…}}`,
/// one a line.
pub struct Json;

impl<S, N> FormatEvent<S, N> for Json
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut ts = String::new();
        SystemTime.format_time(&mut Writer::new(&mut ts))?;
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        // By hand, to keep the keys in this order (a Map sorts them).
        let s = |v: &str| serde_json::Value::from(v).to_string();
        writeln!(
            writer,
            "{{\"ts\":{},\"level\":{},\"message\":{},\"target\":{},\"fields\":{}}}",
            s(&ts),
            s(meta.level().as_str()),
            s(&fields.message),
            s(meta.target()),
            serde_json::Value::Object(fields.fields)
        )
    }
}

/// An event's fields: `message` apart, the rest as JSON values.
#[derive(Default)]
struct Fields {
    message: String,
    fields: serde_json::Map<String, serde_json::Value>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        if field.name() == "message" {
            self.message = match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
        } else {
            self.fields.insert(field.name().to_string(), value);
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string().into());
    }
}
