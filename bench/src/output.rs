//! Reading what a benchmark program printed: the score of a fixed-time program and the lines
//! that must agree between interpreters.
//!
//! Lox prints numbers as C's `%g`, so a time is a number with a fractional part or an exponent;
//! results (counts, checks, booleans) are integers or words.

/// A fixed-time program (`*_batch.lox`) prints its result, then its score (units of work done in
/// the time), then the elapsed time: the score is the second-to-last line.
pub fn batch_score(stdout: &str) -> Option<f64> {
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() < 2 {
        return None;
    }
    let score: f64 = lines[lines.len() - 2].trim().parse().ok()?;
    let elapsed: f64 = lines[lines.len() - 1].trim().parse().ok()?;
    (score.is_finite() && score >= 0.0 && elapsed > 0.0).then_some(score)
}

/// Whether a printed line looks like a measured time (a number with a fraction or an exponent)
/// rather than a result.
pub fn is_timing(line: &str) -> bool {
    let t = line.trim();
    t.parse::<f64>().is_ok() && t.contains(['.', 'e'])
}

/// The lines of `stdout` that do not depend on timing: two correct interpreters print the same.
pub fn results(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| !is_timing(l)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_is_the_second_to_last_line() {
        assert_eq!(batch_score("12345678\n812\n10.0123\n"), Some(812.0));
        assert_eq!(batch_score("812\n10.5"), Some(812.0));
        assert_eq!(batch_score("x\n10"), None);
        assert_eq!(batch_score("10"), None);
        assert_eq!(batch_score(""), None);
        assert_eq!(batch_score("5\n-1\n0\n"), None);
    }

    #[test]
    fn timings_are_told_from_results() {
        assert!(is_timing("1.27066"));
        assert!(is_timing("2.5e-05"));
        assert!(!is_timing("9227465"));
        assert!(!is_timing("true"));
        assert!(!is_timing("elapsed:"));
        assert!(!is_timing("Error"));
        assert_eq!(
            results("true\n1.5\nloop\n0.25\n3\n"),
            vec!["true", "loop", "3"]
        );
    }
}
