//! Integration tests: LATENCY (the monitor's events, per-command
//! histograms) and INFO latencystats, with `latency-monitor-threshold`,
//! `latency-tracking` and `latency-tracking-info-percentiles`.

use keyward::config::UserConfig;
use keyward::Config;

use crate::support::{diff_lines, start, start_with};

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn differential_latency_replies() {
    diff_lines(&[
        "LATENCY HELP",
        "LATENCY DOCTOR",
        "LATENCY LATEST",
        "LATENCY HISTORY command",
        "LATENCY RESET",
        "LATENCY RESET command fast-command",
        "LATENCY GRAPH command",
        "LATENCY HISTORY",
        "LATENCY FOO",
        "LATENCY HISTOGRAM nosuch",
        "CONFIG GET latency-monitor-threshold",
        "CONFIG GET latency-tracking",
        "CONFIG GET latency-tracking-info-percentiles",
        "CONFIG SET latency-monitor-threshold -1",
        "CONFIG SET latency-tracking-info-percentiles 101",
        "CONFIG SET latency-tracking-info-percentiles abc",
        "CONFIG SET latency-monitor-threshold 100",
        "LATENCY DOCTOR",
        "CONFIG SET latency-monitor-threshold 0",
    ])
    .await;
}

#[tokio::test]
async fn latency_monitor_records_slow_commands() {
    let mut c = Config::default();
    c.accepted.insert("enable-debug-command", "yes".into());
    let srv = start_with(c).await;
    let mut r = srv.raw().await;
    assert_eq!(
        r.call_str("CONFIG SET latency-monitor-threshold 1").await,
        b"+OK\r\n"
    );
    assert_eq!(r.call_str("DEBUG SLEEP 0.05").await, b"+OK\r\n");
    let latest = s(&r.call_str("LATENCY LATEST").await);
    assert!(
        latest.starts_with("*1\r\n*4\r\n$7\r\ncommand\r\n:"),
        "{latest}"
    );
    let ms: Vec<i64> = latest
        .split("\r\n")
        .filter_map(|l| l.strip_prefix(':'))
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(ms[1] >= 50 && ms[2] >= 50, "{latest}");
    let history = s(&r.call_str("LATENCY HISTORY command").await);
    assert!(history.starts_with("*1\r\n*2\r\n:"), "{history}");
    let graph = s(&r.call_str("LATENCY GRAPH command").await);
    assert!(graph.contains("command - high "), "{graph}");
    assert!(graph.contains(&"-".repeat(80)), "{graph}");
    let doctor = s(&r.call_str("LATENCY DOCTOR").await);
    assert!(
        doctor.contains("Dave, I have observed latency spikes"),
        "{doctor}"
    );
    assert!(doctor.contains("1. command: 1 latency spikes"), "{doctor}");
    assert!(doctor.contains("Check your Slow Log"), "{doctor}");
    assert_eq!(r.call_str("LATENCY RESET command nosuch").await, b":1\r\n");
    assert_eq!(r.call_str("LATENCY LATEST").await, b"*0\r\n");
    // Below the threshold: nothing.
    assert_eq!(
        r.call_str("CONFIG SET latency-monitor-threshold 100000")
            .await,
        b"+OK\r\n"
    );
    r.call_str("DEBUG SLEEP 0").await;
    assert_eq!(r.call_str("LATENCY LATEST").await, b"*0\r\n");
}

#[tokio::test]
async fn latency_histogram_and_info_latencystats() {
    let srv = start().await;
    let mut r = srv.raw().await;
    for _ in 0..3 {
        r.call_str("SET k v").await;
    }
    r.call_str("GET k").await;
    let h = s(&r.call_str("LATENCY HISTOGRAM set nosuch").await);
    assert!(
        h.starts_with("*2\r\n$3\r\nset\r\n*4\r\n$5\r\ncalls\r\n:3\r\n$14\r\nhistogram_usec\r\n*"),
        "{h}"
    );
    r.call_str("HELLO 3").await;
    let h = s(&r.call_str("LATENCY HISTOGRAM get").await);
    assert!(
        h.starts_with("%1\r\n$3\r\nget\r\n%2\r\n$5\r\ncalls\r\n:1\r\n$14\r\nhistogram_usec\r\n%"),
        "{h}"
    );
    // The last cumulative count is the number of calls.
    assert!(h.ends_with(":1\r\n"), "{h}");
    r.call_str("HELLO 2").await;
    let all = s(&r.call_str("LATENCY HISTOGRAM").await);
    assert!(
        all.contains("$3\r\nset\r\n") && all.contains("$3\r\nget\r\n"),
        "{all}"
    );
    let info = s(&r.call_str("INFO latencystats").await);
    assert!(info.contains("# Latencystats\r\n"), "{info}");
    let line = info
        .lines()
        .find(|l| l.starts_with("latency_percentiles_usec_set:"))
        .expect("set line");
    let parts: Vec<&str> = line.split(':').nth(1).unwrap().split(',').collect();
    assert_eq!(parts.len(), 3, "{line}");
    assert!(
        parts[0].starts_with("p50=")
            && parts[1].starts_with("p99=")
            && parts[2].starts_with("p99.9=")
    );
    assert!(parts[0][4..].contains('.') && parts[0][4..].split('.').nth(1).unwrap().len() == 3);
    // Not in plain INFO (as Redis), in INFO all.
    assert!(!s(&r.call_str("INFO").await).contains("Latencystats"));
    assert!(s(&r.call_str("INFO all").await).contains("latency_percentiles_usec_set"));
    // Other percentiles.
    assert_eq!(
        r.call(&[
            b"CONFIG",
            b"SET",
            b"latency-tracking-info-percentiles",
            b"50 99.99"
        ])
        .await,
        b"+OK\r\n"
    );
    let info = s(&r.call_str("INFO latencystats").await);
    assert!(info.contains("latency_percentiles_usec_set:p50="), "{info}");
    assert!(info.contains(",p99.99="), "{info}");
    // Tracking off: no more samples.
    assert_eq!(
        r.call_str("CONFIG SET latency-tracking no").await,
        b"+OK\r\n"
    );
    r.call_str("SET k v").await;
    let h = s(&r.call_str("LATENCY HISTOGRAM set").await);
    assert!(h.contains("calls\r\n:3\r\n"), "{h}");
    // RESETSTAT clears the histograms.
    r.call_str("CONFIG RESETSTAT").await;
    assert_eq!(r.call_str("LATENCY HISTOGRAM set").await, b"*0\r\n");
}

#[tokio::test]
async fn latency_is_refused_to_a_pinned_tenant() {
    let c = Config {
        users: vec![UserConfig {
            name: "worker".into(),
            password_env: None,
            rules: "on >pw db=2 ~* &* +@all".into(),
            words: None,
            password: None,
        }],
        ..Config::default()
    };
    let srv = start_with(c).await;
    let mut admin = srv.raw().await;
    admin.call_str("SET k v").await;
    let mut w = srv.raw().await;
    w.call_str("AUTH worker pw").await;
    for line in [
        "LATENCY LATEST",
        "LATENCY HISTOGRAM",
        "LATENCY HISTORY command",
        "LATENCY RESET",
        "LATENCY DOCTOR",
        "LATENCY GRAPH command",
    ] {
        assert!(
            s(&w.call_str(line).await).starts_with("-NOPERM User worker is restricted"),
            "{line}"
        );
    }
    assert!(w.call_str("LATENCY HELP").await.starts_with(b"*"));
    let info = s(&w.call_str("INFO latencystats").await);
    assert!(!info.contains("latency_percentiles_usec_"), "{info}");
}
