//! Formatting figures for the report: ms with three significant digits, percentages, ratios,
//! MB, and Markdown tables (first columns left-aligned, numbers right-aligned).

use std::fmt::Write;

use super::workloads::MB;

pub const DASH: &str = "–";

/// ns as ms with about three significant digits.
pub fn fmt_ms(ns: Option<u64>) -> String {
    let Some(ns) = ns else {
        return DASH.into();
    };
    let ms = ns as f64 / 1e6;
    if ns == 0 {
        "0".into()
    } else if ms < 0.01 {
        format!("{ms:.4}")
    } else if ms < 1.0 {
        format!("{ms:.3}")
    } else if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

/// A fraction as a percentage with one decimal.
pub fn fmt_pct(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map_or_else(|| DASH.into(), |v| format!("{:.1}%", v * 100.0))
}

pub fn fmt_ratio(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map_or_else(|| DASH.into(), |v| format!("{v:.2}×"))
}

pub fn fmt_mb(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| DASH.into(), |b| format!("{:.1}", b as f64 / MB as f64))
}

/// `a / b` when both exist and `b` is not zero.
pub fn ratio(a: Option<u64>, b: Option<u64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0 => Some(a as f64 / b as f64),
        _ => None,
    }
}

/// A Markdown table: a header and rows of cells; the first `left` columns align left, the
/// rest right (numbers).
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    left: usize,
}

impl Table {
    pub fn new(header: &[&str], left: usize) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            left,
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let cols = self.header.len();
        let cell = |s: &str| s.replace('|', "\\|");
        let mut o = String::new();
        o.push('|');
        for h in &self.header {
            let _ = write!(o, " {} |", cell(h));
        }
        o.push_str("\n|");
        for i in 0..cols {
            o.push_str(if i < self.left { " --- |" } else { " ---: |" });
        }
        o.push('\n');
        for r in &self.rows {
            o.push('|');
            for i in 0..cols {
                let _ = write!(o, " {} |", cell(r.get(i).map_or("", String::as_str)));
            }
            o.push('\n');
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_keep_three_digits() {
        assert_eq!(fmt_ms(None), DASH);
        assert_eq!(fmt_ms(Some(0)), "0");
        assert_eq!(fmt_ms(Some(1_234)), "0.0012");
        assert_eq!(fmt_ms(Some(123_456)), "0.123");
        assert_eq!(fmt_ms(Some(1_234_567)), "1.23");
        assert_eq!(fmt_ms(Some(12_345_678)), "12.3");
        assert_eq!(fmt_ms(Some(1_234_567_890)), "1235");
        assert_eq!(fmt_pct(Some(0.8766)), "87.7%");
        assert_eq!(fmt_pct(Some(f64::NAN)), DASH);
        assert_eq!(fmt_ratio(ratio(Some(3), Some(2))), "1.50×");
        assert_eq!(fmt_ratio(ratio(Some(3), Some(0))), DASH);
        assert_eq!(fmt_mb(Some(3 * MB / 2)), "1.5");
    }

    #[test]
    fn tables_render_as_markdown() {
        let mut t = Table::new(&["name", "n"], 1);
        assert!(t.is_empty());
        t.row(vec!["a|b".into(), "1".into()]);
        t.row(vec!["c".into()]);
        assert_eq!(
            t.render(),
            "| name | n |\n| --- | ---: |\n| a\\|b | 1 |\n| c |  |\n"
        );
    }
}
