//! Geohash arithmetic behind the geo commands: Redis's 52-bit scores
//! (26 bits of latitude and 26 of longitude, interleaved, latitude in the
//! even bits), the 9-cell area search, distances on a sphere.
//!
//! Every step follows the order of operations of Redis's `geohash.c` and
//! `geohash_helper.c`, floating point included: a member on the edge of a
//! radius must be in or out exactly as redis-server decides, and replies
//! print distances to 4 decimals and coordinates to 17.

/// Bits per coordinate in a stored score.
pub const STEP_MAX: u8 = 26;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;

const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

#[inline]
fn deg_rad(a: f64) -> f64 {
    a * D_R
}

#[inline]
fn rad_deg(a: f64) -> f64 {
    a / D_R
}

/// A cell: `step` bits per coordinate, interleaved in `bits`. The zero
/// value (bits 0, step 0) marks a neighbour left out of a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

impl Cell {
    fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The score range `[min, max)` of the members inside the cell.
    fn score_range(&self) -> (f64, f64) {
        let shift = 52 - 2 * u32::from(self.step);
        (
            (self.bits << shift) as f64,
            ((self.bits + 1) << shift) as f64,
        )
    }
}

#[derive(Clone, Copy, Debug)]
struct Range {
    min: f64,
    max: f64,
}

const LONG_RANGE: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
const LAT_RANGE: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};
/// The standard geohash latitude range GEOHASH re-encodes with.
const STD_LAT_RANGE: Range = Range {
    min: -90.0,
    max: 90.0,
};

/// A cell's bounds.
#[derive(Clone, Copy, Debug)]
struct Area {
    lon: Range,
    lat: Range,
}

/// Spreads the 32 bits of `v` to the even bit positions of a u64.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// The inverse of [`spread`]: the even bits of `x`.
fn squash(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
}

/// Whether a longitude/latitude pair can be indexed (GEOADD's check).
pub fn valid(lon: f64, lat: f64) -> bool {
    (LONG_MIN..=LONG_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

fn encode_in(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<Cell> {
    if !valid(lon, lat) || lat < lat_r.min || lat > lat_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    // C's double-to-uint32 conversion truncates, as `as` does in range.
    Some(Cell {
        bits: spread(lat_off as u32) | (spread(lon_off as u32) << 1),
        step,
    })
}

/// The cell of a point at `step` bits per coordinate (`None` outside the
/// indexable area).
pub fn encode(lon: f64, lat: f64, step: u8) -> Option<Cell> {
    encode_in(LONG_RANGE, LAT_RANGE, lon, lat, step)
}

/// The score GEOADD stores for a valid point.
pub fn score_of(lon: f64, lat: f64) -> Option<f64> {
    encode(lon, lat, STEP_MAX).map(|c| c.bits as f64)
}

fn decode_area(c: Cell) -> Area {
    let lat_i = squash(c.bits);
    let lon_i = squash(c.bits >> 1);
    let div = (1u64 << c.step) as f64;
    let lat_scale = LAT_RANGE.max - LAT_RANGE.min;
    let lon_scale = LONG_RANGE.max - LONG_RANGE.min;
    Area {
        lat: Range {
            min: LAT_RANGE.min + (f64::from(lat_i) * 1.0 / div) * lat_scale,
            max: LAT_RANGE.min + (f64::from(lat_i.wrapping_add(1)) * 1.0 / div) * lat_scale,
        },
        lon: Range {
            min: LONG_RANGE.min + (f64::from(lon_i) * 1.0 / div) * lon_scale,
            max: LONG_RANGE.min + (f64::from(lon_i.wrapping_add(1)) * 1.0 / div) * lon_scale,
        },
    }
}

/// C's `(uint64_t)` cast of a double as x86-64 code does it, for scores
/// no GEOADD wrote (negative, huge, infinite) that members may still have:
/// below 2^63 a signed truncation, above it one of `v - 2^63` with the top
/// bit flipped, and the "integer indefinite" 2^63 when out of range. Rust's
/// `as` saturates instead, which would decode such members elsewhere.
fn c_double_to_u64(v: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    fn cvtt(x: f64) -> u64 {
        if x.is_nan() || !(-TWO63..TWO63).contains(&x) {
            1 << 63
        } else {
            x as i64 as u64
        }
    }
    if v >= TWO63 {
        cvtt(v - TWO63) ^ (1 << 63)
    } else {
        cvtt(v)
    }
}

/// The point a score stands for: the centre of its cell, clamped to the
/// indexable area (what GEOPOS answers).
pub fn decode_score(score: f64) -> (f64, f64) {
    let a = decode_area(Cell {
        bits: c_double_to_u64(score),
        step: STEP_MAX,
    });
    let lon = ((a.lon.min + a.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.lat.min + a.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// GEOHASH's 11-character string: the decoded point re-encoded with the
/// standard -90..90 latitude range, the 11th character always `0`.
pub fn hash_string(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode_score(score);
    let bits = encode_in(LONG_RANGE, STD_LAT_RANGE, lon, lat, STEP_MAX).map_or(0, |c| c.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().take(10).enumerate() {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    out
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Haversine distance in meters.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((deg_rad(lon2) - deg_rad(lon1)) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// A search area's size, in the unit the query gave.
#[derive(Clone, Copy, Debug)]
pub enum Extent {
    Radius(f64),
    /// Width and height.
    Box(f64, f64),
}

/// A search area around a centre: its size and the unit's meters (kept
/// apart because Redis multiplies at different points, and the last bits
/// of a product decide members on the edge).
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub extent: Extent,
    pub conversion: f64,
}

impl Shape {
    /// The distance in meters from (`lon`, `lat`) to a point inside the
    /// shape centred there, or `None` when the point is outside.
    pub fn contains(&self, lon: f64, lat: f64, plon: f64, plat: f64) -> Option<f64> {
        match self.extent {
            Extent::Radius(r) => {
                Some(distance(lon, lat, plon, plat)).filter(|&d| d <= r * self.conversion)
            }
            Extent::Box(w, h) => {
                let (w, h) = (w * self.conversion, h * self.conversion);
                // The latitude test is the cheaper one, so it goes first.
                if lat_distance(plat, lat) > h / 2.0 || distance(plon, plat, lon, plat) > w / 2.0 {
                    return None;
                }
                Some(distance(lon, lat, plon, plat))
            }
        }
    }
}

fn steps_for_radius(mut meters: f64, lat: f64) -> u8 {
    if meters == 0.0 {
        return STEP_MAX;
    }
    let mut step: i32 = 1;
    while meters < MERCATOR_MAX {
        meters *= 2.0;
        step += 1;
    }
    step -= 2;
    // Cells narrow towards the poles: use wider ones there.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, i32::from(STEP_MAX)) as u8
}

/// [min lon, min lat, max lon, max lat] of the shape around the centre.
fn bounding_box(lon: f64, lat: f64, shape: Shape) -> [f64; 4] {
    let c = shape.conversion;
    let (w, h) = match shape.extent {
        Extent::Radius(r) => (c * r, c * r),
        Extent::Box(w, h) => (c * (w / 2.0), c * (h / 2.0)),
    };
    let lat_delta = rad_deg(h / EARTH_RADIUS_IN_METERS);
    let top = rad_deg(w / EARTH_RADIUS_IN_METERS / deg_rad(lat + lat_delta).cos());
    let bottom = rad_deg(w / EARTH_RADIUS_IN_METERS / deg_rad(lat - lat_delta).cos());
    // The edge nearer the pole spans more degrees of longitude.
    let d = if lat < 0.0 { bottom } else { top };
    [lon - d, lat - lat_delta, lon + d, lat + lat_delta]
}

fn move_x(c: &mut Cell, d: i8) {
    move_axis(c, d, 0xaaaa_aaaa_aaaa_aaaa);
}

fn move_y(c: &mut Cell, d: i8) {
    move_axis(c, d, 0x5555_5555_5555_5555);
}

/// Redis's `geohash_move_x`/`_y`: steps the interleaved bits of one axis
/// (`mask`) by `d` cells, the other axis's bits untouched.
fn move_axis(c: &mut Cell, d: i8, mask: u64) {
    let (moving, other) = (c.bits & mask, c.bits & !mask);
    let shift = 64 - 2 * u32::from(c.step);
    let zz = !mask >> shift;
    let moved = if d > 0 {
        moving.wrapping_add(zz + 1)
    } else {
        (moving | zz).wrapping_sub(zz + 1)
    };
    c.bits = (moved & (mask >> shift)) | other;
}

fn neighbour(c: Cell, dx: i8, dy: i8) -> Cell {
    let mut n = c;
    if dx != 0 {
        move_x(&mut n, dx);
    }
    if dy != 0 {
        move_y(&mut n, dy);
    }
    n
}

/// The cells to scan for a shape around (`lon`, `lat`), in Redis's order
/// (centre, N, S, E, W, NE, NW, SE, SW); useless ones are zero.
fn cells_for(lon: f64, lat: f64, shape: Shape) -> [Cell; 9] {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(lon, lat, shape);
    let radius = match shape.extent {
        Extent::Radius(r) => r,
        Extent::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
    } * shape.conversion;
    let mut step = steps_for_radius(radius, lat);
    let around = |step| {
        let c = encode(lon, lat, step).unwrap_or_default();
        [
            c,
            neighbour(c, 0, 1),
            neighbour(c, 0, -1),
            neighbour(c, 1, 0),
            neighbour(c, -1, 0),
            neighbour(c, 1, 1),
            neighbour(c, -1, 1),
            neighbour(c, 1, -1),
            neighbour(c, -1, -1),
        ]
    };
    let mut cells = around(step);
    // Near a cell edge the estimated step may leave part of the shape
    // beyond the neighbours: one step coarser then.
    let (n, s, e, w) = (
        decode_area(cells[1]),
        decode_area(cells[2]),
        decode_area(cells[3]),
        decode_area(cells[4]),
    );
    let short =
        n.lat.max < max_lat || s.lat.min > min_lat || e.lon.max < max_lon || w.lon.min > min_lon;
    if step > 1 && short {
        step -= 1;
        cells = around(step);
    }
    if step >= 2 {
        let area = decode_area(cells[0]);
        let mut drop = |idx: [usize; 3]| idx.iter().for_each(|&i| cells[i] = Cell::default());
        if area.lat.min < min_lat {
            drop([2, 8, 7]);
        }
        if area.lat.max > max_lat {
            drop([1, 5, 6]);
        }
        if area.lon.min < min_lon {
            drop([4, 8, 6]);
        }
        if area.lon.max > max_lon {
            drop([3, 7, 5]);
        }
    }
    cells
}

/// A member found by a search.
#[derive(Clone, Debug)]
pub struct Hit<'a> {
    pub member: &'a [u8],
    pub score: f64,
    pub lon: f64,
    pub lat: f64,
    /// Meters from the centre.
    pub dist: f64,
}

/// Redis's `membersOfAllNeighbors`: scans the cells around the centre in
/// order, each by score range through `range` (which calls back with the
/// members whose scores are in `[min, max)`, ascending, and stops when the
/// callback returns false). With `limit` (COUNT … ANY) it stops once that
/// many members matched.
pub fn search<'a>(
    lon: f64,
    lat: f64,
    shape: Shape,
    limit: usize,
    mut range: impl FnMut(f64, f64, &mut dyn FnMut(&'a [u8], f64) -> bool),
) -> Vec<Hit<'a>> {
    let cells = cells_for(lon, lat, shape);
    let mut hits: Vec<Hit<'a>> = Vec::new();
    let mut last: Option<usize> = None;
    for (i, c) in cells.iter().enumerate() {
        if c.is_zero() {
            continue;
        }
        // With huge radii neighbours can coincide: skip a repeat of the
        // previous cell scanned.
        if last.is_some_and(|l| cells[l] == *c) {
            continue;
        }
        if limit > 0 && hits.len() >= limit {
            break;
        }
        let (min, max) = c.score_range();
        range(min, max, &mut |member, score| {
            let (plon, plat) = decode_score(score);
            if let Some(dist) = shape.contains(lon, lat, plon, plat) {
                hits.push(Hit {
                    member,
                    score,
                    lon: plon,
                    lat: plat,
                    dist,
                });
            }
            !(limit > 0 && hits.len() >= limit)
        });
        last = Some(i);
    }
    hits
}

/// Redis's `ld2string(…, LD_STR_HUMAN)` of a double: `%.17Lf` with the
/// trailing zeros (and a bare dot) removed, `-0` as `0`. The long double
/// holds the double exactly, so its fixed-point digits are the double's.
pub fn human_coord(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geo_scores_match_redis() {
        // GEOADD Sicily 13.361389 38.115556 Palermo → ZSCORE 3479099956230698
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698.0));
        assert_eq!(score_of(15.087269, 37.502669), Some(3479447370796909.0));
        assert_eq!(score_of(180.1, 0.0), None);
        assert_eq!(score_of(0.0, 85.06), None);
    }

    #[test]
    fn geo_decode_and_format() {
        let (lon, lat) = decode_score(3479099956230698.0);
        assert_eq!(human_coord(lon), "13.36138933897018433");
        assert_eq!(human_coord(lat), "38.11555639549629859");
        assert_eq!(human_coord(-0.0), "0");
        assert_eq!(human_coord(180.0), "180");
        assert_eq!(&hash_string(3479099956230698.0), b"sqc8b49rny0");
    }

    #[test]
    fn geo_distance_palermo_catania() {
        let (a, b) = (
            decode_score(3479099956230698.0),
            decode_score(3479447370796909.0),
        );
        assert_eq!(
            format!("{:.4}", distance(a.0, a.1, b.0, b.1)),
            "166274.1516"
        );
    }

    #[test]
    fn geo_neighbours_wrap() {
        let c = Cell { bits: 0, step: 1 };
        // West of the first column wraps to the last one.
        assert_eq!(neighbour(c, -1, 0).bits, 0b10);
        assert_eq!(neighbour(c, 1, 0).bits, 0b10);
        assert_eq!(spread(0b11), 0b101);
        assert_eq!(squash(0b101), 0b11);
    }
}
