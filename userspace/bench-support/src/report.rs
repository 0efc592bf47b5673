//! What the benchmark programs print for the host (scripts/bench-report reads
//! it): the JSON records between two marker lines, the numbers in them, and
//! times in the tables.

/// A number for a JSON record, with one decimal (NaN and the infinities,
/// which JSON lacks, as null).
pub fn json_number(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else {
        "null".into()
    }
}

/// The JSON array of `records` (each one JSON object) between the lines
/// `begin` and `end`.
pub fn json_block(begin: &str, end: &str, records: &[String]) -> String {
    format!("{begin}\n[\n{}\n]\n{end}", records.join(",\n"))
}

/// Nanoseconds as microseconds with one decimal.
pub fn us(ns: f64) -> String {
    format!("{:.1}", ns / 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_numbers_have_one_decimal_and_null_for_nan() {
        assert_eq!(json_number(2.0), "2.0");
        assert_eq!(json_number(1234.56), "1234.6");
        assert_eq!(json_number(f64::NAN), "null");
        assert_eq!(json_number(f64::INFINITY), "null");
    }

    #[test]
    fn json_block_is_an_array_between_the_markers() {
        let b = json_block("BEGIN", "END", &["{\"a\": 1}".into(), "{\"a\": 2}".into()]);
        assert_eq!(b, "BEGIN\n[\n{\"a\": 1},\n{\"a\": 2}\n]\nEND");
        assert_eq!(json_block("B", "E", &[]), "B\n[\n\n]\nE");
    }

    #[test]
    fn microseconds() {
        assert_eq!(us(1500.0), "1.5");
        assert_eq!(us(0.0), "0.0");
    }
}
