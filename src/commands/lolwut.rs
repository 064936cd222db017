//! LOLWUT [VERSION v] [args…], as Redis 7.2.4's `lolwut.c`: versions 5
//! (Georg Nees's "Schotter" drawn in Braille characters) and 6 (an 8-bit
//! skyline in ANSI colours) with their arguments and limits; any other
//! version, and the default (7.2 has no art of its own), answers the
//! version line. The art is random, as in Redis; the shape and the
//! trailer lines are Redis's.

use rand::Rng;

use crate::commands::Outcome;
use crate::server::REDIS_VERSION;

use super::args::is;
use super::errors::{self, CmdResult};
use super::spec::{flags::*, CommandSpec, Group};
use super::Ctx;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new(
    "lolwut",
    -1,
    READONLY | FAST | NO_DB_LOCK,
    Group::Server,
    lolwut,
)
.doc("Displays computer art and the Redis version", "5.0.0", "")];

fn int_arg(a: &[u8]) -> Result<i64, errors::Error> {
    crate::protocol::parse::parse_i64(a).ok_or(errors::NOT_INTEGER)
}

fn lolwut(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut args = &argv[1..];
    let mut version = None;
    if argv.len() >= 3 && is(argv[1], "version") {
        // Redis prints the number as `%u.0.0`.
        version = Some(int_arg(argv[2])? as u32);
        args = &argv[3..];
    }
    let text = match version {
        Some(5) => schotter(args)?,
        Some(6) => skyline(args)?,
        _ => format!("Redis ver. {REDIS_VERSION}\n"),
    };
    ctx.out.verbatim(text.as_bytes());
    Ok(Outcome::Done)
}

/// The optional numeric arguments, each clamped to `1..=max`.
fn params<const N: usize>(
    args: &[&[u8]],
    mut v: [i64; N],
    max: [i64; N],
) -> Result<[i64; N], errors::Error> {
    for (i, a) in args.iter().take(N).enumerate() {
        v[i] = int_arg(a)?;
    }
    for i in 0..N {
        v[i] = v[i].clamp(1, max[i]);
    }
    Ok(v)
}

/// Redis's `rand()`: 0..=RAND_MAX.
fn rand_c(rng: &mut impl Rng) -> i64 {
    rng.gen_range(0..=i32::MAX as i64)
}

struct Canvas {
    width: i64,
    height: i64,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i64, height: i64, bg: u8) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![bg; (width * height) as usize],
        }
    }

    fn set(&mut self, x: i64, y: i64, color: u8) {
        if (0..self.width).contains(&x) && (0..self.height).contains(&y) {
            self.pixels[(y * self.width + x) as usize] = color;
        }
    }

    fn get(&self, x: i64, y: i64) -> u8 {
        if (0..self.width).contains(&x) && (0..self.height).contains(&y) {
            self.pixels[(y * self.width + x) as usize]
        } else {
            0
        }
    }

    /// Bresenham, as `lwDrawLine`.
    fn line(&mut self, mut x1: i64, mut y1: i64, x2: i64, y2: i64, color: u8) {
        let (dx, dy) = ((x2 - x1).abs(), (y2 - y1).abs());
        let sx = if x1 < x2 { 1 } else { -1 };
        let sy = if y1 < y2 { 1 } else { -1 };
        let mut err = dx - dy;
        loop {
            self.set(x1, y1, color);
            if x1 == x2 && y1 == y2 {
                break;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x1 += sx;
            }
            if e2 < dx {
                err += dx;
                y1 += sy;
            }
        }
    }

    /// `lwDrawSquare`: a square of side `size` centred on (x, y), rotated.
    fn square(&mut self, x: i64, y: i64, size: f32, angle: f32) {
        let size = (size / std::f32::consts::SQRT_2).round();
        let mut k = std::f32::consts::FRAC_PI_4 + angle;
        let mut px = [0i64; 4];
        let mut py = [0i64; 4];
        for j in 0..4 {
            px[j] = (f64::from(k).sin() * f64::from(size) + x as f64).round() as i64;
            py[j] = (f64::from(k).cos() * f64::from(size) + y as f64).round() as i64;
            k += std::f32::consts::FRAC_PI_2;
        }
        for j in 0..4 {
            self.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], 1);
        }
    }

    /// Version 5's rendering: 2x4 pixels per Braille character.
    fn braille(&self) -> String {
        let mut text = String::new();
        let mut y = 0;
        while y < self.height {
            let mut x = 0;
            while x < self.width {
                let bits = [
                    (x, y),
                    (x, y + 1),
                    (x, y + 2),
                    (x + 1, y),
                    (x + 1, y + 1),
                    (x + 1, y + 2),
                    (x, y + 3),
                    (x + 1, y + 3),
                ];
                let byte = bits
                    .iter()
                    .enumerate()
                    .filter(|(_, &(px, py))| self.get(px, py) != 0)
                    .fold(0u32, |b, (i, _)| b | 1 << i);
                text.push(char::from_u32(0x2800 + byte).unwrap_or(' '));
                x += 2;
            }
            if y != self.height - 1 {
                text.push('\n');
            }
            y += 4;
        }
        text
    }
}

/// LOLWUT VERSION 5 [cols [squares-per-row [squares-per-col]]].
fn schotter(args: &[&[u8]]) -> Result<String, errors::Error> {
    let [cols, per_row, per_col] = params(args, [66, 8, 12], [1000, 200, 200])?;
    let width = cols * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    let height = (side * per_col as f32 + (padding * 2) as f32) as i64;
    let mut canvas = Canvas::new(width, height, 0);
    let mut rng = rand::thread_rng();
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0 + padding as f32) as i64;
            let mut sy = (y as f32 * side + side / 2.0 + padding as f32) as i64;
            let mut angle = 0.0f32;
            if y > 1 {
                let mut r = [0f32; 3];
                for v in &mut r {
                    *v = rand_c(&mut rng) as f32 / i32::MAX as f32 / per_col as f32 * y as f32;
                }
                for v in &mut r {
                    if rand_c(&mut rng) % 2 == 1 {
                        *v = -*v;
                    }
                }
                angle = r[0];
                sx += (r[1] * side / 3.0) as i64;
                sy += (r[2] * side / 3.0) as i64;
            }
            canvas.square(sx, sy, side, angle);
        }
    }
    let mut text = canvas.braille();
    text.push_str("\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ");
    text.push_str(REDIS_VERSION);
    text.push('\n');
    Ok(text)
}

/// LOLWUT VERSION 6 [cols [rows]]: a city skyline.
fn skyline(args: &[&[u8]]) -> Result<String, errors::Error> {
    let [cols, rows] = params(args, [80, 20], [1000, 1000])?;
    let mut canvas = Canvas::new(cols, rows, 3);
    let mut rng = rand::thread_rng();
    let h = canvas.height;
    // Background buildings without windows, lighter ones behind.
    for color in [2u8, 1] {
        let mut offset = -10;
        while offset < canvas.width {
            offset += rand_c(&mut rng) % 8;
            let width = 10 + rand_c(&mut rng) % 9;
            let height = if color == 2 {
                h / 2 + (rand_c(&mut rng) % h) / 2
            } else {
                h / 2 + (rand_c(&mut rng) % h) / 3
            };
            skyscraper(&mut canvas, &mut rng, offset, width, height, color, false);
            offset += if color == 2 { width / 2 } else { width + 1 };
        }
    }
    // Foreground buildings with windows.
    let mut offset = -10;
    while offset < canvas.width {
        offset += rand_c(&mut rng) % 8;
        let mut width = 5 + rand_c(&mut rng) % 14;
        if width % 4 != 0 {
            width += width % 3;
        }
        let height = h / 3 + (rand_c(&mut rng) % h) / 2;
        skyscraper(&mut canvas, &mut rng, offset, width, height, 0, true);
        offset += width + 5;
    }
    let mut text = String::new();
    for y in 0..canvas.height {
        for x in 0..canvas.width {
            let ce = match canvas.get(x, y) {
                1 => "0;90;100m",
                2 => "0;37;47m",
                3 => "0;97;107m",
                _ => "0;30;40m",
            };
            text.push_str(&format!("\x1b[{ce} \x1b[0m"));
        }
        text.push('\n');
    }
    text.push_str("Dedicated to the 8 bit game developers of past and present.\n");
    text.push_str("Original 8 bit image from Plaguemon by hikikomori. Redis ver. ");
    text.push_str(REDIS_VERSION);
    text.push('\n');
    Ok(text)
}

/// `generateSkyscraper`.
fn skyscraper(
    canvas: &mut Canvas,
    rng: &mut impl Rng,
    xoff: i64,
    width: i64,
    height: i64,
    color: u8,
    windows: bool,
) {
    let starty = canvas.height - 1;
    let endy = starty - height + 1;
    let mut y = starty;
    while y >= endy {
        for x in xoff..xoff + width {
            // The roof is four pixels narrower.
            if y == endy && (x <= xoff + 1 || x >= xoff + width - 2) {
                continue;
            }
            let mut c = color;
            if windows && x > xoff + 1 && x < xoff + width - 2 && y > endy + 1 && y < starty - 1 {
                let relx = x - (xoff + 1);
                let rely = y - (endy + 1);
                // Windows two pixels wide, one tall; both halves alike.
                if (relx / 2) % 2 != 0 && rely % 2 != 0 {
                    loop {
                        c = (1 + rand_c(rng) % 2) as u8;
                        if c != color {
                            break;
                        }
                    }
                    if relx % 2 != 0 {
                        c = canvas.get(x - 1, y);
                    }
                }
            }
            canvas.set(x, y, c);
        }
        y -= 1;
    }
}
