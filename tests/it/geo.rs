//! Geo group: GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS(_RO),
//! GEORADIUSBYMEMBER(_RO), GEOSEARCH, GEOSEARCHSTORE. Mostly byte for byte
//! against redis-server over sets that reach the edges of the index (poles,
//! the antimeridian, a skiplist-encoded grid), plus what a differential
//! run can't see (key positions, WATCH, the table's metadata).

use crate::support::{compare, err, q, start, Oracle};

fn words(line: &str) -> Vec<Vec<u8>> {
    line.split(' ').map(|w| w.as_bytes().to_vec()).collect()
}

/// A sorted set's members with their scores printed by Lua's `%.17g`:
/// the oracle (7.0) prints scores with `%.17g` where we print 7.2's
/// shortest form, so stored distances are compared through Lua.
fn zrange_exact(key: &str) -> Vec<Vec<u8>> {
    [
        "EVAL",
        "local r = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES') for i = 2, #r, 2 do r[i] = string.format('%.17g', tonumber(r[i])) end return r",
        "1",
        key,
    ]
    .iter()
    .map(|w| w.as_bytes().to_vec())
    .collect()
}

const SICILY: &str = "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 12.758489 38.788135 edge1 17.241510 38.788135 edge2";

const CITIES: &str = "GEOADD cities 13.361389 38.115556 Palermo 15.087269 37.502669 Catania \
12.496366 41.902782 Rome 2.352222 48.856613 Paris -0.127758 51.507351 London \
-74.005941 40.712784 NewYork 139.691706 35.689487 Tokyo 151.209296 -33.868820 Sydney \
174.763332 -36.848460 Auckland 178.441895 -18.141600 Suva -179.9 -16.5 Taveuni \
-149.900278 61.218056 Anchorage -21.9424 64.1466 Reykjavik 15.6356 78.2232 Longyearbyen \
166.6863 -77.8419 McMurdo -68.303 -54.8019 Ushuaia -51.7216 64.1835 Nuuk \
-78.4678 -0.1807 Quito 103.8198 1.3521 Singapore 18.4241 -33.9249 CapeTown \
-157.8583 21.3069 Honolulu 36.8219 -1.2921 Nairobi 0 0 Null";

const POLES: &str = "GEOADD poles 0 85.05112878 north 0 -85.05112878 south 180 0 e180 -180 0 w180 \
180 85.05112878 ne -180 -85.05112878 sw 10 85 near -170 -84.9 near2 20 81 p81 -30 67 p67 \
-30 -66.5 p66 179 84 far";

const ANTI: &str = "GEOADD anti 179.99 0 a1 -179.99 0 a2 179.5 1 a3 -179.5 -1 a4 180 0.5 a5 \
-180 -0.5 a6 179.999999 10 a7 -179.999999 10 a8 170 0 a9 -170 0 a10 179.9 -60 a11 -179.9 60 a12";

/// A grid of 224 points around western Europe: a skiplist-encoded set.
fn grid() -> String {
    let mut s = String::from("GEOADD grid");
    for i in 0..16 {
        for j in 0..14 {
            let lon = -10.0 + 1.3 * i as f64;
            let lat = 40.0 + 1.1 * j as f64;
            s.push_str(&format!(" {lon:.4} {lat:.4} g{i}_{j}"));
        }
    }
    s
}

fn setup() -> Vec<String> {
    vec![
        SICILY.into(),
        CITIES.into(),
        POLES.into(),
        ANTI.into(),
        grid(),
    ]
}

const OPTION_SETS: &[&str] = &[
    "",
    "ASC",
    "DESC",
    "COUNT 1",
    "COUNT 3",
    "COUNT 2 DESC",
    "COUNT 100 ASC",
    "COUNT 2 ANY",
    "COUNT 3 ANY DESC",
    "WITHDIST",
    "WITHHASH",
    "WITHCOORD",
    "WITHDIST ASC",
    "WITHCOORD WITHHASH DESC",
    "WITHDIST WITHHASH WITHCOORD ASC",
    "withdist withcoord count 4 asc",
    "WITHDIST WITHHASH WITHCOORD COUNT 5 ANY",
];

/// (set, lon, lat, a member of the set) centres.
const CENTRES: &[(&str, &str, &str, &str)] = &[
    ("Sicily", "15", "37", "Palermo"),
    ("cities", "13.4", "38.1", "Rome"),
    ("cities", "179.5", "-17", "Suva"),
    ("cities", "-0.1", "51.5", "Reykjavik"),
    ("poles", "0", "85", "north"),
    ("poles", "-179.9", "-84", "sw"),
    ("poles", "0", "-85.05112878", "p66"),
    ("anti", "180", "0", "a1"),
    ("anti", "-180", "5", "a10"),
    ("grid", "0", "47", "g5_5"),
    ("grid", "-9.5", "54", "g15_13"),
];

const RADII: &[&str] = &[
    "0 m",
    "1 km",
    "200 km",
    "500 KM",
    "300 mi",
    "1000000 ft",
    "2000 km",
    "8000 km",
    "20000 km",
];

const BOXES: &[&str] = &[
    "0 0 m",
    "400 400 km",
    "1000 200 km",
    "200 1000 km",
    "600 600 mi",
    "4000 3000 km",
    "40000 20000 km",
];

fn search_lines() -> Vec<String> {
    let mut v = Vec::new();
    for (set, lon, lat, member) in CENTRES {
        for opts in OPTION_SETS {
            for r in RADII {
                v.push(format!("GEORADIUS {set} {lon} {lat} {r} {opts}"));
                v.push(format!("GEORADIUSBYMEMBER_RO {set} {member} {r} {opts}"));
                v.push(format!(
                    "GEOSEARCH {set} FROMLONLAT {lon} {lat} BYRADIUS {r} {opts}"
                ));
            }
            for b in BOXES {
                v.push(format!(
                    "GEOSEARCH {set} FROMMEMBER {member} BYBOX {b} {opts}"
                ));
                v.push(format!(
                    "GEOSEARCH {set} FROMLONLAT {lon} {lat} BYBOX {b} {opts}"
                ));
            }
        }
    }
    v.iter().map(|l| l.trim_end().to_string()).collect()
}

/// Runs `cmds` on both servers, after `setup`, on one connection each
/// (`resp3`: after HELLO 3, whose reply names the server and is skipped).
async fn diff_on_both(setup: &[String], cmds: &[Vec<Vec<u8>>], resp3: bool) {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let server = start().await;
    let mut a = server.raw().await;
    let mut b = oracle.raw().await;
    for c in [&mut a, &mut b] {
        c.call(&[b"FLUSHALL"]).await;
        for line in setup {
            let w = words(line);
            let args: Vec<&[u8]> = w.iter().map(Vec::as_slice).collect();
            c.call(&args).await;
        }
        if resp3 {
            c.call(&[b"HELLO", b"3"]).await;
        }
    }
    compare(&mut a, &mut b, cmds).await;
}

#[tokio::test]
async fn differential_geoadd_geopos_geohash_geodist() {
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut push = |l: &str| cmds.push(words(l));
    for l in setup() {
        push(&l);
    }
    for l in [
        "GEOADD Sicily 13.361389 38.115556 Palermo",
        "GEOADD Sicily CH 13.361389 38.115556 Palermo 13.4 38.1 edge1",
        "GEOADD Sicily NX CH 1 1 edge1 2 2 new1",
        "GEOADD Sicily XX CH 3 3 new1 4 4 new2",
        "GEOADD Sicily XX 5 5 new1",
        "GEOADD Sicily ch xx nx 1 1 x",
        "GEOADD Sicily NX XX 1 1 x",
        "GEOADD Sicily CH CH CH",
        "GEOADD Sicily 1 2 m 3",
        "GEOADD Sicily 1 2",
        "GEOADD Sicily GT 1 2 m",
        "GEOADD Sicily 180.0001 0 bad",
        "GEOADD Sicily -180.0001 0 bad",
        "GEOADD Sicily 0 85.05112879 bad",
        "GEOADD Sicily 0 -85.06 bad",
        "GEOADD Sicily 1 1 ok 200 1 bad",
        "GEOADD Sicily inf 1 bad",
        "GEOADD Sicily abc 1 bad",
        "GEOADD Sicily 1 abc bad",
        "GEOADD Sicily 0x10 0x8 hex",
        "ZSCORE Sicily ok",
        "ZSCORE Sicily hex",
        "ZCARD Sicily",
        "GEOADD xxmissing XX 1 1 a",
        "EXISTS xxmissing",
        "GEOPOS Sicily Palermo Catania nosuch edge1 new1 hex",
        "GEOPOS Sicily",
        "GEOPOS nokey a b",
        "GEOPOS nokey",
        "GEOHASH Sicily Palermo Catania nosuch edge2",
        "GEOHASH Sicily",
        "GEOHASH nokey a",
        "GEOPOS poles north south e180 w180 ne sw near near2",
        "GEOHASH poles north south e180 w180 ne sw near near2",
        "GEOPOS anti a1 a2 a5 a6 a7 a8",
        "GEOHASH anti a1 a2 a5 a6 a7 a8",
        "GEOPOS cities Palermo Tokyo Sydney Null Quito",
        "GEOHASH cities Palermo Tokyo Sydney Null Quito",
        "GEODIST Sicily Palermo Catania",
        "GEODIST Sicily Palermo Catania km",
        "GEODIST Sicily Palermo Catania KM",
        "GEODIST Sicily Palermo Catania mi",
        "GEODIST Sicily Palermo Catania ft",
        "GEODIST Sicily Palermo Catania m",
        "GEODIST Sicily Palermo Palermo",
        "GEODIST Sicily Palermo nosuch",
        "GEODIST Sicily nosuch Palermo",
        "GEODIST Sicily Palermo Catania yards",
        "GEODIST Sicily Palermo Catania km extra",
        "GEODIST nokey a b",
        "GEODIST nokey a b furlongs",
        "GEODIST poles north south km",
        "GEODIST poles e180 w180",
        "GEODIST anti a1 a2",
        "GEODIST anti a7 a8",
        "GEODIST cities Sydney NewYork mi",
        "GEODIST cities Suva Taveuni",
        "SET str x",
        "GEOADD str 1 1 a",
        "GEOPOS str a",
        "GEOHASH str a",
        "GEODIST str a b",
        "GEODIST str a b yards",
        "ZADD plain 0 zero 1 one 4503599627370495 top",
        "GEOPOS plain zero one top",
        "GEOHASH plain zero one top",
        "GEODIST plain zero top",
        "ZADD odd -1 neg -1e300 vneg 1e300 huge 2.5 frac 9223372036854775808 two63 1e19 e19 inf pinf -inf ninf 4503599627370496 two52",
        "GEOPOS odd neg vneg huge frac two63 e19 pinf ninf two52",
        "GEOHASH odd neg vneg huge frac two63 e19 pinf ninf two52",
        "GEODIST odd neg huge km",
        "GEODIST odd two63 e19",
        "GEORADIUS odd 0 0 20000 km WITHHASH WITHCOORD ASC",
    ] {
        push(l);
    }
    diff_on_both(&[], &cmds, false).await;
}

#[tokio::test]
async fn differential_searches() {
    let cmds: Vec<Vec<Vec<u8>>> = search_lines().iter().map(|l| words(l)).collect();
    diff_on_both(&setup(), &cmds, false).await;
}

#[tokio::test]
async fn differential_stores() {
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    for (set, lon, lat, member) in CENTRES {
        for (r, bx) in [
            ("200 km", "400 300 km"),
            ("2000 km", "3000 4000 km"),
            ("0 m", "0 0 m"),
            ("20000 km", "40000 20000 km"),
        ] {
            for opts in ["", "COUNT 2", "DESC COUNT 3", "COUNT 2 ANY", "ASC"] {
                for (line, key) in [
                    (format!("GEORADIUS {set} {lon} {lat} {r} {opts} STORE dst"), "dst"),
                    (
                        format!("GEORADIUSBYMEMBER {set} {member} {r} STOREDIST dd {opts}"),
                        "dd",
                    ),
                    (
                        format!("GEOSEARCHSTORE gs {set} FROMLONLAT {lon} {lat} BYRADIUS {r} {opts}"),
                        "gs",
                    ),
                    (
                        format!("GEOSEARCHSTORE gd {set} FROMMEMBER {member} BYBOX {bx} {opts} STOREDIST"),
                        "gd",
                    ),
                ] {
                    cmds.push(words(line.split_whitespace().collect::<Vec<_>>().join(" ").as_str()));
                    cmds.push(zrange_exact(key));
                    cmds.push(words(&format!("TTL {key}")));
                }
            }
        }
    }
    diff_on_both(&setup(), &cmds, false).await;
}

#[tokio::test]
async fn differential_search_errors() {
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    for l in [
        "SET str x",
        "SET dst x",
        "GEORADIUS Sicily 15 37 200 km STORE dst WITHDIST",
        "GEORADIUS Sicily 15 37 200 km WITHHASH STOREDIST dst",
        "GEORADIUS Sicily 15 37 200 km WITHCOORD STORE",
        "GEORADIUS_RO Sicily 15 37 200 km STORE dst",
        "GEORADIUSBYMEMBER_RO Sicily Palermo 200 km STOREDIST dst",
        "GEORADIUS Sicily 15 37 200 yards",
        "GEORADIUS Sicily 15 37 -1 km",
        "GEORADIUS Sicily 15 37 abc km",
        "GEORADIUS Sicily 15 37 200",
        "GEORADIUS Sicily 181 37 200 km",
        "GEORADIUS Sicily 15 86 200 km",
        "GEORADIUS Sicily x 37 200 km",
        "GEORADIUS Sicily 15 37 200 km COUNT 0",
        "GEORADIUS Sicily 15 37 200 km COUNT -1",
        "GEORADIUS Sicily 15 37 200 km COUNT abc",
        "GEORADIUS Sicily 15 37 200 km COUNT",
        "GEORADIUS Sicily 15 37 200 km ANY",
        "GEORADIUS Sicily 15 37 200 km ANY ASC",
        "GEORADIUS Sicily 15 37 200 km FOO",
        "GEORADIUS Sicily 15 37 200 km FROMLONLAT 1 1",
        "GEORADIUS str 15 37 200 km",
        "GEORADIUS str 15 37 200 yards",
        "GEORADIUS nokey 15 37 200 km",
        "GEORADIUS nokey 15 37 200 yards",
        "GEORADIUS nokey 15 37 200 km STORE dst",
        "EXISTS dst",
        "GEORADIUSBYMEMBER Sicily nosuch 200 km",
        "GEORADIUSBYMEMBER Sicily nosuch 200 yards",
        "GEORADIUSBYMEMBER Sicily Palermo 200 yards",
        "GEORADIUSBYMEMBER Sicily Palermo -5 km",
        "GEORADIUSBYMEMBER nokey nosuch 200 yards",
        "GEORADIUSBYMEMBER nokey nosuch 200 yards COUNT 0",
        "GEORADIUSBYMEMBER nokey nosuch 200 yards BAD",
        "GEORADIUSBYMEMBER nokey nosuch 200 km ANY",
        "GEORADIUSBYMEMBER str Palermo 200 km",
        "SET dst x",
        "GEORADIUSBYMEMBER nokey nosuch 200 km STORE dst",
        "EXISTS dst",
        "GEOSEARCH Sicily BYRADIUS 200 km",
        "GEOSEARCH Sicily FROMLONLAT 15 37",
        "geosearch Sicily FROMLONLAT 15 37",
        "GeoSearch Sicily FROMLONLAT 15 37 COUNT 1",
        "GEOSEARCH Sicily FROMMEMBER Palermo ASC",
        "GEOSEARCHSTORE d Sicily FROMMEMBER Palermo ASC",
        "geosearchstore d Sicily BYBOX 1 1 km",
        "GEOSEARCH Sicily FROMMEMBER Palermo FROMLONLAT 15 37 BYRADIUS 1 km",
        "GEOSEARCH Sicily FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 1 km",
        "GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km BYBOX 1 1 km",
        "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 1 km BYRADIUS 1 km",
        "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX -1 1 km",
        "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 -1 km",
        "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX x 1 km",
        "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 x km",
        "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 1 yards",
        "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 1",
        "GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1",
        "GEOSEARCH Sicily FROMLONLAT 15 BYRADIUS 1 km",
        "GEOSEARCH Sicily FROMLONLAT 190 37 BYRADIUS 1 km",
        "GEOSEARCH Sicily FROMMEMBER nosuch BYRADIUS 1 km",
        "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 100 km STORE dst",
        "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 100 km STOREDIST",
        "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 100 km ANY",
        "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 100 km COUNT 0",
        "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 100 km WITHDIST COUNT 1 ANY",
        "GEOSEARCH nokey FROMMEMBER nosuch BYRADIUS 100 km",
        "GEOSEARCH nokey FROMMEMBER nosuch BYRADIUS 100 yards",
        "GEOSEARCH nokey FROMLONLAT 15 37 BYRADIUS 100 km",
        "GEOSEARCH nokey FROMMEMBER nosuch",
        "GEOSEARCH str FROMMEMBER nosuch BYRADIUS 100 km",
        "GEOSEARCHSTORE d Sicily FROMMEMBER Palermo BYRADIUS 100 km WITHDIST",
        "GEOSEARCHSTORE d Sicily FROMMEMBER Palermo BYRADIUS 100 km WITHCOORD STOREDIST",
        "GEOSEARCHSTORE d Sicily FROMMEMBER Palermo BYRADIUS 100 km STORE x",
        "GEOSEARCHSTORE d str FROMMEMBER Palermo BYRADIUS 100 km",
        "SET d x",
        "GEOSEARCHSTORE d nokey FROMMEMBER Palermo BYRADIUS 100 km",
        "EXISTS d",
        "GEOSEARCHSTORE d Sicily FROMMEMBER Palermo BYRADIUS 0 km",
        "GEOSEARCHSTORE d Sicily FROMLONLAT 0 0 BYRADIUS 1 km",
        "EXISTS d",
        "GEOSEARCHSTORE Sicily Sicily FROMMEMBER Palermo BYRADIUS 100 km STOREDIST",
        "ZRANGE Sicily 0 -1",
        "GEORADIUS",
        "GEOSEARCH Sicily FROMLONLAT",
    ] {
        cmds.push(words(l));
    }
    diff_on_both(&setup(), &cmds, false).await;
}

#[tokio::test]
async fn differential_resp3_replies() {
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    for l in [
        "GEOPOS Sicily Palermo nosuch Catania",
        "GEOPOS nokey a",
        "GEOHASH Sicily Palermo nosuch",
        "GEODIST Sicily Palermo Catania km",
        "GEODIST Sicily Palermo nosuch",
        "GEODIST nokey a b",
        "GEORADIUS Sicily 15 37 200 km WITHDIST WITHHASH WITHCOORD ASC",
        "GEOSEARCH cities FROMMEMBER Suva BYRADIUS 3000 km WITHCOORD DESC",
        "GEOSEARCH poles FROMLONLAT 0 0 BYBOX 40000 20000 km WITHDIST WITHCOORD",
        "GEOSEARCH nokey FROMLONLAT 0 0 BYBOX 1 1 km",
    ] {
        cmds.push(words(l));
    }
    diff_on_both(&setup(), &cmds, true).await;
}

// ---------------------------------------------------------------- behaviour

#[tokio::test]
async fn geoadd_and_queries_behave_like_the_docs() {
    let s = start().await;
    let mut c = s.client().await;
    let n: i64 = q(&mut c, &SICILY.split(' ').collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(n, 4);
    let d: String = q(&mut c, &["GEODIST", "Sicily", "Palermo", "Catania"])
        .await
        .unwrap();
    assert_eq!(d, "166274.1516");
    let h: Vec<String> = q(&mut c, &["GEOHASH", "Sicily", "Palermo", "Catania"])
        .await
        .unwrap();
    assert_eq!(h, ["sqc8b49rny0", "sqdtr74hyu0"]);
    let p: Vec<Option<Vec<String>>> = q(&mut c, &["GEOPOS", "Sicily", "Palermo", "NonExisting"])
        .await
        .unwrap();
    assert_eq!(
        p,
        [
            Some(vec![
                "13.36138933897018433".into(),
                "38.11555639549629859".into()
            ]),
            None
        ]
    );
    let r: Vec<String> = q(
        &mut c,
        &["GEORADIUS", "Sicily", "15", "37", "200", "km", "ASC"],
    )
    .await
    .unwrap();
    assert_eq!(r, ["Catania", "Palermo"]);
    let r: Vec<(String, String)> = q(
        &mut c,
        &[
            "GEORADIUSBYMEMBER_RO",
            "Sicily",
            "Palermo",
            "200",
            "km",
            "WITHDIST",
            "DESC",
        ],
    )
    .await
    .unwrap();
    let want: Vec<(String, String)> = [
        ("Catania", "166.2742"),
        ("edge1", "91.4007"),
        ("Palermo", "0.0000"),
    ]
    .iter()
    .map(|(m, d)| (m.to_string(), d.to_string()))
    .collect();
    assert_eq!(r, want);
    let n: i64 = q(
        &mut c,
        &[
            "GEOSEARCHSTORE",
            "near",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "400",
            "400",
            "km",
            "ASC",
            "COUNT",
            "3",
            "STOREDIST",
        ],
    )
    .await
    .unwrap();
    assert_eq!(n, 3);
    let first: Vec<String> = q(&mut c, &["ZRANGE", "near", "0", "0"]).await.unwrap();
    assert_eq!(first, ["Catania"]);
    assert_eq!(
        err(
            &mut c,
            &[
                "GEOSEARCH",
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "1",
                "km",
                "ANY"
            ]
        )
        .await,
        "ResponseError: the ANY argument requires COUNT argument"
    );
    assert!(err(&mut c, &["GEOADD", "Sicily", "200", "100", "x"])
        .await
        .contains("invalid longitude,latitude pair 200.000000,100.000000"));
}

#[tokio::test]
async fn georadius_store_keys_are_movable() {
    let s = start().await;
    let mut c = s.client().await;
    let keys: Vec<String> = q(
        &mut c,
        &[
            "COMMAND",
            "GETKEYS",
            "GEORADIUS",
            "src",
            "1",
            "2",
            "3",
            "km",
            "STORE",
            "a",
            "STOREDIST",
            "b",
        ],
    )
    .await
    .unwrap();
    // Redis 7.2's key specs find both destinations (the STORE and the
    // STOREDIST spec), though the command writes only the last.
    assert_eq!(keys, ["src", "a", "b"]);
    let keys: Vec<String> = q(
        &mut c,
        &[
            "COMMAND",
            "GETKEYS",
            "GEORADIUSBYMEMBER",
            "src",
            "m",
            "3",
            "km",
            "STORE",
            "dst",
        ],
    )
    .await
    .unwrap();
    assert_eq!(keys, ["src", "dst"]);
    let keys: Vec<String> = q(
        &mut c,
        &[
            "COMMAND",
            "GETKEYS",
            "GEORADIUS_RO",
            "src",
            "1",
            "2",
            "3",
            "km",
        ],
    )
    .await
    .unwrap();
    assert_eq!(keys, ["src"]);
    let keys: Vec<String> = q(
        &mut c,
        &[
            "COMMAND",
            "GETKEYS",
            "GEOSEARCHSTORE",
            "dst",
            "src",
            "FROMLONLAT",
            "1",
            "2",
            "BYRADIUS",
            "1",
            "km",
        ],
    )
    .await
    .unwrap();
    assert_eq!(keys, ["dst", "src"]);
}

#[tokio::test]
async fn geo_store_breaks_watch_and_read_only_variants_do_not_write() {
    let s = start().await;
    let mut a = s.raw().await;
    let mut b = s.raw().await;
    a.call_str(SICILY).await;
    a.call_str("SET dst x").await;
    a.call_str("WATCH dst").await;
    b.call_str("GEORADIUS Sicily 15 37 200 km STORE dst").await;
    a.call_str("MULTI").await;
    a.call_str("GET dst").await;
    assert_eq!(a.call_str("EXEC").await, b"*-1\r\n");
    assert_eq!(b.call_str("TYPE dst").await, b"+zset\r\n");
    // The _RO variants take no STORE option at all.
    assert_eq!(
        b.call_str("GEORADIUS_RO Sicily 15 37 200 km STORE other")
            .await,
        b"-ERR syntax error\r\n"
    );
    assert_eq!(b.call_str("EXISTS other").await, b":0\r\n");
}

/// Equally distant members (shared coordinates, mirror images): which
/// ones COUNT keeps and in what order is Redis's sort's business, and
/// clients see it.
#[tokio::test]
async fn differential_ties_under_count() {
    let mut add = String::from("GEOADD ties");
    for i in 0..12 {
        add.push_str(&format!(" 1 1 p{i} -1 1 m{i} 2 2 q{i} 0.5 -0.5 r{i}"));
    }
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    for count in [1, 2, 5, 7, 8, 12, 13, 24, 30, 41, 47, 48] {
        for order in ["ASC", "DESC"] {
            for extra in ["", "WITHDIST", "ANY"] {
                let line = format!(
                    "GEOSEARCH ties FROMLONLAT 0 1 BYRADIUS 500 km COUNT {count} {order} {extra}"
                );
                cmds.push(words(line.trim_end()));
            }
            cmds.push(words(&format!(
                "GEORADIUS ties 0 1 500 km COUNT {count} {order} STORE st"
            )));
            cmds.push(zrange_exact("st"));
        }
    }
    diff_on_both(&[add], &cmds, false).await;
}

/// Random GEOADD/GEODIST/GEOPOS/GEOHASH/GEOSEARCH(STORE) over two keys,
/// compared reply by reply with the Redis 7.2 oracle: scores, distances,
/// coordinates and the order and choice of COUNT results must match.
#[tokio::test]
async fn differential_random_geo_workload_72() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    for seed in 0..3 {
        let mut rng = StdRng::seed_from_u64(seed);
        let keys = ["g1", "g2"];
        let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
        let coord = |rng: &mut StdRng| {
            // Around one city, with up to six decimals.
            let lon = 13.0 + rng.gen_range(0..2_000_000) as f64 / 1e6;
            let lat = 38.0 + rng.gen_range(0..1_000_000) as f64 / 1e6;
            (format!("{lon:.6}"), format!("{lat:.6}"))
        };
        for _ in 0..500 {
            let k = keys[rng.gen_range(0..keys.len())].to_string();
            let m = |rng: &mut StdRng| format!("p{}", rng.gen_range(0..60));
            let unit = ["m", "km", "mi", "ft"][rng.gen_range(0..4)].to_string();
            let cmd: Vec<String> = match rng.gen_range(0..9) {
                0..=2 => {
                    let (lon, lat) = coord(&mut rng);
                    vec!["GEOADD".into(), k, lon, lat, m(&mut rng)]
                }
                3 => vec!["GEODIST".into(), k, m(&mut rng), m(&mut rng), unit],
                4 => vec!["GEOPOS".into(), k, m(&mut rng), m(&mut rng)],
                5 => vec!["GEOHASH".into(), k, m(&mut rng), m(&mut rng)],
                6 | 7 => {
                    let mut c = vec!["GEOSEARCH".to_string(), k];
                    if rng.gen_bool(0.5) {
                        let (lon, lat) = coord(&mut rng);
                        c.extend(["FROMLONLAT".to_string(), lon, lat]);
                    } else {
                        c.extend(["FROMMEMBER".to_string(), m(&mut rng)]);
                    }
                    if rng.gen_bool(0.5) {
                        c.extend(["BYRADIUS".into(), rng.gen_range(1..200).to_string(), unit]);
                    } else {
                        c.extend([
                            "BYBOX".into(),
                            rng.gen_range(1..200).to_string(),
                            rng.gen_range(1..200).to_string(),
                            unit,
                        ]);
                    }
                    c.push(["ASC", "DESC"][rng.gen_range(0..2)].into());
                    if rng.gen_bool(0.5) {
                        c.extend(["COUNT".into(), rng.gen_range(1..10).to_string()]);
                    }
                    for opt in ["WITHCOORD", "WITHDIST", "WITHHASH"] {
                        if rng.gen_bool(0.5) {
                            c.push(opt.into());
                        }
                    }
                    c
                }
                _ => vec![
                    "GEOSEARCHSTORE".into(),
                    "dst".into(),
                    k,
                    "FROMMEMBER".into(),
                    m(&mut rng),
                    "BYRADIUS".into(),
                    rng.gen_range(1..200).to_string(),
                    unit,
                    "STOREDIST".into(),
                ],
            };
            cmds.push(cmd.into_iter().map(String::into_bytes).collect());
        }
        cmds.push(vec![
            b"ZRANGE".to_vec(),
            b"dst".to_vec(),
            b"0".to_vec(),
            b"-1".to_vec(),
            b"WITHSCORES".to_vec(),
        ]);
        crate::support::diff_args_72(&cmds).await;
    }
}
