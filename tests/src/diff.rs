//! A line diff of expected against actual output, for failure reports.
//!
//! Longest common subsequence on small outputs; past a size cap it falls back to comparing line by
//! line, which is enough to point at the first divergence.

/// Most lines on either side for the quadratic diff.
const LCS_CAP: usize = 2000;

/// One line of a diff.
#[derive(Debug, PartialEq, Eq)]
pub enum Edit<'a> {
    Same(&'a str),
    Missing(&'a str),
    Extra(&'a str),
}

/// Edits that turn `expected` into `actual`.
pub fn diff<'a>(expected: &'a [String], actual: &'a [String]) -> Vec<Edit<'a>> {
    let (n, m) = (expected.len(), actual.len());
    if n > LCS_CAP || m > LCS_CAP {
        return positional(expected, actual);
    }
    // lcs[i][j]: LCS length of expected[i..] and actual[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if expected[i] == actual[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut edits = Vec::new();
    while i < n || j < m {
        if i < n && j < m && expected[i] == actual[j] {
            edits.push(Edit::Same(&expected[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            edits.push(Edit::Extra(&actual[j]));
            j += 1;
        } else {
            edits.push(Edit::Missing(&expected[i]));
            i += 1;
        }
    }
    edits
}

fn positional<'a>(expected: &'a [String], actual: &'a [String]) -> Vec<Edit<'a>> {
    let mut edits = Vec::new();
    for k in 0..expected.len().max(actual.len()) {
        match (expected.get(k), actual.get(k)) {
            (Some(e), Some(a)) if e == a => edits.push(Edit::Same(e)),
            (e, a) => {
                edits.extend(e.map(|e| Edit::Missing(e)));
                edits.extend(a.map(|a| Edit::Extra(a)));
            }
        }
    }
    edits
}

/// Renders the changed lines with a little context, at most `max_lines` lines.
pub fn render(edits: &[Edit<'_>], max_lines: usize) -> Vec<String> {
    let changed: Vec<bool> = edits.iter().map(|e| !matches!(e, Edit::Same(_))).collect();
    let near_change =
        |k: usize| (k.saturating_sub(2)..(k + 3).min(edits.len())).any(|x| changed[x]);
    let mut out = Vec::new();
    let mut skipped = false;
    for (k, e) in edits.iter().enumerate() {
        if !near_change(k) {
            skipped = true;
            continue;
        }
        if skipped && !out.is_empty() {
            out.push("  ...".to_string());
        }
        skipped = false;
        out.push(match e {
            Edit::Same(l) => format!("    {l}"),
            Edit::Missing(l) => format!("  - {l}"),
            Edit::Extra(l) => format!("  + {l}"),
        });
        if out.len() >= max_lines {
            out.push("  ... (diff cut)".to_string());
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn finds_missing_and_extra_lines() {
        let (e, a) = (v(&["a", "b", "c"]), v(&["a", "x", "c", "d"]));
        let d = diff(&e, &a);
        assert_eq!(
            d,
            vec![
                Edit::Same("a"),
                Edit::Extra("x"),
                Edit::Missing("b"),
                Edit::Same("c"),
                Edit::Extra("d")
            ]
        );
        let r = render(&d, 50);
        assert!(r.contains(&"  - b".to_string()) && r.contains(&"  + d".to_string()));
    }

    #[test]
    fn equal_outputs_render_nothing() {
        let e = v(&["1", "2"]);
        assert!(render(&diff(&e, &e), 10).is_empty());
    }

    #[test]
    fn large_outputs_fall_back_to_positions() {
        let e: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
        let mut a = e.clone();
        a[1500] = "changed".into();
        let d = diff(&e, &a);
        assert_eq!(d.iter().filter(|x| !matches!(x, Edit::Same(_))).count(), 2);
    }
}
