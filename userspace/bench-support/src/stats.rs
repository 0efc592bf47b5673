//! Statistics of repeated measurements: the median and the spread of
//! repetitions, and percentiles of latency samples.

/// The median of `v` (not empty): the middle value, or the mean of the two
/// middle values of an even count.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// (max - min) / median of `v` (not empty): how far apart the repetitions
/// were.
pub fn spread(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::MIN, f64::max);
    let min = v.iter().copied().fold(f64::MAX, f64::min);
    (max - min) / median(v)
}

/// The `p`-th percentile (0..=1) of sorted `sorted`, nearest rank; NaN if
/// it is empty.
pub fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1] as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
    }

    #[test]
    fn median_leaves_its_input_as_it_was() {
        let v = [3.0, 1.0, 2.0];
        median(&v);
        assert_eq!(v, [3.0, 1.0, 2.0]);
    }

    #[test]
    fn spread_is_range_over_median() {
        assert_eq!(spread(&[1.0, 3.0, 2.0]), 1.0);
        assert_eq!(spread(&[5.0, 5.0]), 0.0);
        assert_eq!(spread(&[4.0]), 0.0);
    }

    #[test]
    fn percentiles_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&v, 1.0), 100.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&[7], 0.99), 7.0);
        assert!(percentile(&[], 0.5).is_nan());
    }

    #[test]
    fn median_rank_is_the_lower_middle_of_an_even_count() {
        // p50 of 4 samples is the 2nd (as (len - 1) / 2 picks).
        assert_eq!(percentile(&[10, 20, 30, 40], 0.5), 20.0);
        assert_eq!(percentile(&[10, 20, 30, 40, 50], 0.5), 30.0);
    }
}
