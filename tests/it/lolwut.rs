//! Integration tests: LOLWUT, against Redis's shapes (the art is random;
//! its size, characters and trailer lines are Redis's).

use crate::support::{bulk_payload, start, Oracle};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(&bulk_payload(b).expect("bulk")).into_owned()
}

#[tokio::test]
async fn lolwut_default_is_the_version_line() {
    let srv = start().await;
    let mut r = srv.raw().await;
    assert_eq!(text(&r.call_str("LOLWUT").await), "Redis ver. 7.2.4\n");
    assert_eq!(
        text(&r.call_str("LOLWUT VERSION 7").await),
        "Redis ver. 7.2.4\n"
    );
    let art = text(&r.call_str("LOLWUT VERSION 5").await);
    assert!(
        art.ends_with("\n\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. 7.2.4\n"),
        "{art}"
    );
    // 66 columns of Braille, (8 squares of side 16.25) x 12 + padding rows.
    let lines: Vec<&str> = art.lines().collect();
    assert_eq!(lines[0].chars().count(), 66);
    assert!(lines[0]
        .chars()
        .all(|c| ('\u{2800}'..='\u{28ff}').contains(&c)));
    let sky = text(&r.call_str("LOLWUT VERSION 6").await);
    assert!(sky.ends_with(
        "Dedicated to the 8 bit game developers of past and present.\nOriginal 8 bit image from Plaguemon by hikikomori. Redis ver. 7.2.4\n"
    ));
    assert_eq!(sky.lines().count(), 22);
    assert_eq!(sky.lines().next().unwrap().matches("\x1b[0m").count(), 80);
}

/// Same bytes where the output is not random (with the version number
/// swapped), same shape where it is.
#[tokio::test]
async fn differential_lolwut_shapes() {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let srv = start().await;
    let mut a = srv.raw().await;
    let mut b = oracle.raw().await;
    let theirs_version = {
        let t = text(&b.call_str("LOLWUT").await);
        t.trim_end().trim_start_matches("Redis ver. ").to_string()
    };
    let same = |ours: String, theirs: String| {
        assert_eq!(ours, theirs.replace(&theirs_version, "7.2.4"));
    };
    for line in [
        "LOLWUT",
        "LOLWUT VERSION 5 10 1 1",
        "LOLWUT VERSION 1",
        "LOLWUT foo bar",
    ] {
        same(text(&a.call_str(line).await), text(&b.call_str(line).await));
    }
    let shape = |t: &str| -> Vec<usize> {
        t.lines()
            .map(|l| match l.matches("\x1b[0m").count() {
                0 => l.chars().count(),
                cells => 100_000 + cells,
            })
            .collect()
    };
    for line in [
        "LOLWUT VERSION 5",
        "LOLWUT VERSION 5 3",
        "LOLWUT VERSION 5 40 4 6",
        "LOLWUT VERSION 5 0 0 0",
        "LOLWUT VERSION 6",
        "LOLWUT VERSION 6 20 5",
        "LOLWUT VERSION 6 -1 2000",
    ] {
        let ours = text(&a.call_str(line).await);
        let theirs = text(&b.call_str(line).await).replace(&theirs_version, "7.2.4");
        assert_eq!(shape(&ours), shape(&theirs), "{line}");
    }
    for line in [
        "LOLWUT VERSION x",
        "LOLWUT VERSION 5 x",
        "LOLWUT VERSION 6 1 y",
    ] {
        assert_eq!(a.call_str(line).await, b.call_str(line).await, "{line}");
    }
}
