//! Number printing exactly as C's `printf("%g", x)` does on glibc (what clox uses): six
//! significant digits, scientific notation when the decimal exponent is below -4 or at least 6,
//! trailing zeros removed, exponents written with a sign and at least two digits, and `nan`,
//! `-nan`, `inf`, `-inf`, `-0` for the special values.
//!
//! Appends to an off-heap byte buffer; allocates nothing else.

use std::io::Write;

/// Significant digits of `%g` without an explicit precision.
const PRECISION: i32 = 6;

/// Appends `x` formatted as `%g` to `out`.
pub fn format_g(out: &mut Vec<u8>, x: f64) {
    if x.is_nan() {
        // glibc prints the sign of a NaN; x86's 0/0 yields a negative one.
        out.extend_from_slice(if x.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        });
        return;
    }
    if x.is_infinite() {
        out.extend_from_slice(if x < 0.0 { b"-inf" } else { b"inf" });
        return;
    }
    if x == 0.0 {
        out.extend_from_slice(if x.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    // `%e` with PRECISION-1 fraction digits decides the exponent (after rounding) and, in the
    // scientific case, the digits. Rust rounds the exact binary value half-to-even, as glibc.
    let mut buf = [0u8; 40];
    let len = {
        let mut cur = std::io::Cursor::new(&mut buf[..]);
        // Cannot fail: at most "-d.ddddde-308" fits easily in 40 bytes.
        let _ = write!(cur, "{:.*e}", (PRECISION - 1) as usize, x);
        cur.position() as usize
    };
    let sci = &buf[..len];
    let e_at = sci.iter().position(|&b| b == b'e').unwrap_or(len);
    let exp = parse_exponent(&sci[(e_at + 1).min(len)..]);
    if !(-4..PRECISION).contains(&exp) {
        let start = out.len();
        out.extend_from_slice(&sci[..e_at]);
        strip_fraction_zeros(out, start);
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push(b'0');
        }
        let _ = write!(out, "{a}");
    } else {
        let start = out.len();
        let frac = (PRECISION - 1 - exp) as usize;
        let _ = write!(out, "{:.*}", frac, x);
        strip_fraction_zeros(out, start);
    }
}

/// Parses Rust's exponent text ("8", "-7").
fn parse_exponent(s: &[u8]) -> i32 {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let mut n: i32 = 0;
    for &d in digits {
        n = n * 10 + i32::from(d - b'0');
    }
    if neg {
        -n
    } else {
        n
    }
}

/// Removes trailing zeros of the fraction written at `out[start..]`, and the point if nothing
/// follows it (`%g` without `#`).
fn strip_fraction_zeros(out: &mut Vec<u8>, start: usize) {
    if !out[start..].contains(&b'.') {
        return;
    }
    while out.last() == Some(&b'0') {
        out.pop();
    }
    if out.last() == Some(&b'.') {
        out.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(x: f64) -> String {
        let mut v = Vec::new();
        format_g(&mut v, x);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn plain_numbers() {
        assert_eq!(g(1.0), "1");
        assert_eq!(g(1.5), "1.5");
        assert_eq!(g(0.1), "0.1");
        assert_eq!(g(-2.25), "-2.25");
        assert_eq!(g(100.0), "100");
        assert_eq!(g(123456.0), "123456");
        assert_eq!(g(12345.678), "12345.7");
        assert_eq!(g(0.0001), "0.0001");
        assert_eq!(g(0.000123456789), "0.000123457");
        assert_eq!(g(4.12345678), "4.12346");
        assert_eq!(g(2.0 / 3.0), "0.666667");
    }

    #[test]
    fn scientific_numbers() {
        assert_eq!(g(1e21), "1e+21");
        assert_eq!(g(1e-7), "1e-07");
        assert_eq!(g(123456789.0), "1.23457e+08");
        assert_eq!(g(1234567.0), "1.23457e+06");
        assert_eq!(g(1000000.0), "1e+06");
        assert_eq!(g(0.00001), "1e-05");
        assert_eq!(g(-1.5e-300), "-1.5e-300");
        assert_eq!(g(1.7976931348623157e308), "1.79769e+308");
        assert_eq!(g(5e-324), "4.94066e-324");
    }

    #[test]
    fn rounding_moves_the_exponent() {
        // 999999.5 rounds to 1e+06 at six digits: the %e exponent decides.
        assert_eq!(g(999999.5), "1e+06");
        assert_eq!(g(999999.4), "999999");
        assert_eq!(g(0.000099999995), "0.0001");
        assert_eq!(g(9.9999996e-5), "0.0001");
        assert_eq!(g(9.99999e-5), "9.99999e-05");
    }

    #[test]
    fn special_values() {
        assert_eq!(g(0.0), "0");
        assert_eq!(g(-0.0), "-0");
        assert_eq!(g(f64::INFINITY), "inf");
        assert_eq!(g(f64::NEG_INFINITY), "-inf");
        assert_eq!(g(f64::NAN), "nan");
        assert_eq!(g(-f64::NAN), "-nan");
    }
}
