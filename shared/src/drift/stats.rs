//! The drift statistics of issue 12, each defined to match a SciPy/NumPy reference exactly
//! (`tests/drift_reference.py` writes the reference values that `shared/tests/drift_reference.rs`
//! compares with, to 1e-9 relative).
//!
//! - Numeric bins come from the frozen reference only: edges are the reference quantiles at
//!   q = k/B, k = 1..B−1 (NumPy's default linear interpolation), duplicates removed. Re-binning
//!   every window over reference and current combined (as Evidently does) would make PSI values
//!   incomparable between runs; fixed edges make every window's counts foldable and comparable.
//! - Bins are right-closed, (−∞, e₁], (e₁, e₂], …, (e_last, +∞): a value equal to an edge falls
//!   in the lower bin. With quantile edges an edge *is* a reference value, so right-closed bins
//!   put exactly the share q = k/B of the reference at or below eₖ (up to ties) and a heavily
//!   tied value (say a spike at 0) stays in one bin with its duplicates collapsed.
//! - Proportions strictly below ε = 1e-4 are floored to ε with no renormalisation: an empty bin
//!   would make ln(q/p) infinite, and renormalising would shift every other bin by an amount
//!   that depends on how many bins were empty.
//! - PSI is compared with a sample-size-aware critical value, χ²₁₋α,k−1 · (1/n_ref + 1/n_cur):
//!   under no drift n·PSI is asymptotically χ²(k−1)-distributed, so a fixed band alone flags
//!   noise on small samples.
//! - On raw (or reservoir) values: KS is `scipy.stats.ks_2samp(method="asymp")`, whose p-value
//!   is the exact finite-n Kolmogorov distribution `kstwo.sf(D, round(mn/(m+n)))` (ported in
//!   `stats/kolmogorov.rs`; no crate has it), and Wasserstein is
//!   `scipy.stats.wasserstein_distance`. Categorical features get `chi2_contingency` on the 2×K
//!   table without correction instead.
//! - χ² quantile and survival function come from `statrs`.
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF};

mod kolmogorov;

/// Proportion floor; proportions strictly below it are replaced by it, with no renormalisation.
pub const EPSILON: f64 = 1e-4;
/// Numeric bins per feature unless the model says otherwise.
pub const DEFAULT_BINS: usize = 10;
/// Significance level of the PSI critical value.
pub const ALPHA: f64 = 0.05;
/// A feature with fewer current values than this is `insufficient_data`, never NORMAL.
pub const MIN_CURRENT: u64 = 30;
/// Name of the categorical bin for categories the reference never saw. It starts with a NUL,
/// which a parsed category never contains, so a real category called "other" stays itself.
pub const UNSEEN_CATEGORY: &str = "\u{0}unseen";

/// Reference quantiles at q = k/B, k = 1..B−1, NumPy's default linear interpolation
/// (`np.quantile(ref, k/B)`), duplicates removed, ascending. Empty input (or B < 2) gives no
/// edges: one bin.
pub fn quantile_edges(reference: &[f64], bins: usize) -> Vec<f64> {
    if reference.is_empty() || bins < 2 {
        return Vec::new();
    }
    let mut sorted = reference.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..bins)
        .map(|k| numpy_linear_quantile(&sorted, k as f64 / bins as f64))
        .collect();
    // Quantiles of a sorted sample are non-decreasing in q, so equal edges are adjacent.
    edges.dedup();
    edges
}

/// `np.quantile(sorted, q)` with method="linear": virtual index (n−1)·q, then NumPy's `_lerp`,
/// which interpolates from the upper neighbour when the weight is ≥ 0.5 (the result differs in
/// the last bit otherwise).
fn numpy_linear_quantile(sorted: &[f64], q: f64) -> f64 {
    let last = sorted.len() - 1;
    let virtual_index = last as f64 * q;
    let previous = virtual_index.floor();
    let gamma = virtual_index - previous;
    let lo = (previous as usize).min(last);
    let hi = (lo + 1).min(last);
    let (a, b) = (sorted[lo], sorted[hi]);
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

/// Bin of `x` for right-closed bins (−∞, e₁], (e₁, e₂], …, (e_last, +∞):
/// `np.searchsorted(edges, x, side="left")`, the number of edges strictly below `x`.
/// Result in `0..=edges.len()`.
pub fn bin_index(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|edge| *edge < x)
}

/// Counts per bin of `values` (length `edges.len() + 1`).
pub fn bin_counts(edges: &[f64], values: &[f64]) -> Vec<u64> {
    let mut counts = vec![0u64; edges.len() + 1];
    for value in values {
        counts[bin_index(edges, *value)] += 1;
    }
    counts
}

/// Sorted distinct categories of a reference column (a categorical baseline). Sorted by code
/// point, as Python's `sorted` on `str`.
pub fn categories(reference: &[String]) -> Vec<String> {
    reference
        .iter()
        .map(String::as_str)
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// Bin of a categorical value: its index in `categories` (sorted), else `categories.len()`,
/// the unseen-category bin.
pub fn category_index(categories: &[String], value: &str) -> usize {
    categories
        .binary_search_by(|category| category.as_str().cmp(value))
        .unwrap_or(categories.len())
}

/// Comparison of two count vectors over the same bins (same length; the categorical case
/// includes the unseen bin as the last element).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BinnedComparison {
    pub n_ref: u64,
    pub n_cur: u64,
    /// Σ (q − p)·ln(q/p) over floored proportions.
    pub psi: f64,
    /// Σ p·ln(p/q), reference first, over floored proportions.
    pub kl: f64,
    /// `scipy.spatial.distance.jensenshannon(p, q)` (natural log) on the floored p, q.
    pub js_distance: f64,
    /// χ²₁₋α,k−1 · (1/n_ref + 1/n_cur).
    pub psi_critical_value: f64,
    /// k, the number of bins (after duplicate edges collapsed; categorical: with the unseen bin).
    pub bins_used: usize,
}

/// PSI, KL, JS distance and the PSI critical value of a reference and a current count vector
/// over the same bins. Bins beyond the shorter vector count as empty on the other side.
pub fn compare_binned(reference: &[u64], current: &[u64]) -> BinnedComparison {
    let bins_used = reference.len().max(current.len());
    let n_ref: u64 = reference.iter().sum();
    let n_cur: u64 = current.iter().sum();
    let p = floored_proportions(reference, n_ref, bins_used);
    let q = floored_proportions(current, n_cur, bins_used);
    let psi = p.iter().zip(&q).map(|(p, q)| (q - p) * (q / p).ln()).sum();
    let kl = p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum();
    BinnedComparison {
        n_ref,
        n_cur,
        psi,
        kl,
        js_distance: jensenshannon(&p, &q),
        psi_critical_value: psi_critical_value(bins_used, n_ref, n_cur, ALPHA),
        bins_used,
    }
}

/// count/total per bin, each proportion strictly below [`EPSILON`] replaced by it, with no
/// renormalisation. An empty vector (total 0) is all ε.
fn floored_proportions(counts: &[u64], total: u64, bins: usize) -> Vec<f64> {
    (0..bins)
        .map(|bin| {
            let count = counts.get(bin).copied().unwrap_or(0);
            let proportion = if total == 0 {
                0.0
            } else {
                count as f64 / total as f64
            };
            if proportion < EPSILON {
                EPSILON
            } else {
                proportion
            }
        })
        .collect()
}

/// `scipy.spatial.distance.jensenshannon(p, q)` with the natural log: p and q are normalised to
/// sum 1 first, m = (p + q)/2, √((KL(p‖m) + KL(q‖m))/2). Inputs are floored, so all > 0.
fn jensenshannon(p: &[f64], q: &[f64]) -> f64 {
    let p_total: f64 = p.iter().sum();
    let q_total: f64 = q.iter().sum();
    let (mut left, mut right) = (0.0, 0.0);
    for (p, q) in p.iter().zip(q) {
        let p = p / p_total;
        let q = q / q_total;
        let m = (p + q) / 2.0;
        left += rel_entr(p, m);
        right += rel_entr(q, m);
    }
    // Rounding can leave the sum a hair below zero for identical distributions.
    ((left + right) / 2.0).max(0.0).sqrt()
}

/// `scipy.special.rel_entr`: x·ln(x/y), 0 at x = 0.
fn rel_entr(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// χ²₁₋α,k−1 · (1/n_ref + 1/n_cur). One bin (k − 1 = 0 degrees of freedom) has critical value
/// 0: PSI over one bin is 0 and never significant. An empty side gives +∞, an `alpha` outside
/// (0, 1) NaN.
pub fn psi_critical_value(bins_used: usize, n_ref: u64, n_cur: u64, alpha: f64) -> f64 {
    if !(alpha > 0.0 && alpha < 1.0) {
        return f64::NAN;
    }
    let Some(quantile) = chi2_quantile(1.0 - alpha, bins_used.saturating_sub(1)) else {
        return 0.0;
    };
    quantile * (1.0 / n_ref as f64 + 1.0 / n_cur as f64)
}

/// `scipy.stats.chi2.ppf(probability, dof)`; None for 0 degrees of freedom.
fn chi2_quantile(probability: f64, dof: usize) -> Option<f64> {
    if dof == 0 {
        return None;
    }
    let chi2 = ChiSquared::new(dof as f64).ok()?;
    Some(chi2.inverse_cdf(probability))
}

/// `scipy.stats.chi2_contingency(2×K table, correction=False)` p-value, columns empty on both
/// sides dropped; None when fewer than 2 columns remain or a row sums to 0.
pub fn chi2_contingency_p(reference: &[u64], current: &[u64]) -> Option<f64> {
    let columns: Vec<(f64, f64)> = (0..reference.len().max(current.len()))
        .map(|bin| {
            (
                reference.get(bin).copied().unwrap_or(0),
                current.get(bin).copied().unwrap_or(0),
            )
        })
        .filter(|(r, c)| r + c > 0)
        .map(|(r, c)| (r as f64, c as f64))
        .collect();
    if columns.len() < 2 {
        return None;
    }
    let ref_total: f64 = columns.iter().map(|(r, _)| r).sum();
    let cur_total: f64 = columns.iter().map(|(_, c)| c).sum();
    if ref_total == 0.0 || cur_total == 0.0 {
        return None;
    }
    let total = ref_total + cur_total;
    let statistic: f64 = columns
        .iter()
        .map(|(r, c)| {
            let column_total = r + c;
            let expected_ref = ref_total * column_total / total;
            let expected_cur = cur_total * column_total / total;
            (r - expected_ref).powi(2) / expected_ref + (c - expected_cur).powi(2) / expected_cur
        })
        .sum();
    let chi2 = ChiSquared::new((columns.len() - 1) as f64).ok()?;
    Some(chi2.sf(statistic))
}

/// Two-sample Kolmogorov–Smirnov statistic and two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KsResult {
    pub statistic: f64,
    pub p_value: f64,
}

/// `scipy.stats.ks_2samp(a, b, method="asymp")`, two-sided: D = sup |F_a − F_b| over the merged
/// sample, p = `kstwo.sf(D, round(m·n/(m+n)))` with m ≥ n. None if either sample is empty, or
/// both have one value (round(1/2) = 0: SciPy answers NaN). Inputs need not be sorted.
pub fn ks_2samp_asymp(a: &[f64], b: &[f64]) -> Option<KsResult> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let a = sorted(a);
    let b = sorted(b);
    let statistic = ks_statistic(&a, &b);
    let (m, n) = (a.len().max(b.len()) as f64, a.len().min(b.len()) as f64);
    // NumPy's round: half to even (two samples of one value each give 0.5 -> 0).
    let effective_n = (m * n / (m + n)).round_ties_even() as u64;
    if effective_n == 0 {
        return None;
    }
    let p_value = kstwo_sf(effective_n, statistic);
    Some(KsResult { statistic, p_value })
}

/// `scipy.stats.kstwo.sf(d, n)`: P(D_n > d) for the two-sided one-sample Kolmogorov–Smirnov
/// statistic of n values (exact finite-n distribution, Simard & L'Ecuyer's method choice).
/// NaN for n = 0.
pub fn kstwo_sf(n: u64, d: f64) -> f64 {
    kolmogorov::kolmogn_sf(n, d)
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut values = values.to_vec();
    values.sort_by(f64::total_cmp);
    values
}

/// max over the merged sorted sample of |cdf_a − cdf_b|, each ECDF evaluated right-continuous
/// after every tie (SciPy's `searchsorted(…, side="right") / n`), computed with the same
/// divisions so D is bit-identical.
fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut max_diff, mut min_diff) = (0.0f64, 0.0f64);
    while i < a.len() || j < b.len() {
        let x = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.min(*y),
            (Some(x), None) => *x,
            (None, Some(y)) => *y,
            (None, None) => break,
        };
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        let diff = i as f64 / na - j as f64 / nb;
        max_diff = max_diff.max(diff);
        min_diff = min_diff.min(diff);
    }
    max_diff.max((-min_diff).clamp(0.0, 1.0))
}

/// `scipy.stats.wasserstein_distance(a, b)` (1-D, unweighted): ∫ |F_a − F_b| over the merged
/// sorted values. None if either sample is empty.
pub fn wasserstein_distance(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let a = sorted(a);
    let b = sorted(b);
    let mut all: Vec<f64> = a.iter().chain(&b).copied().collect();
    all.sort_by(f64::total_cmp);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut distance = 0.0;
    for window in all.windows(2) {
        let (x, next) = (window[0], window[1]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        distance += (i as f64 / na - j as f64 / nb).abs() * (next - x);
    }
    Some(distance)
}

/// The fixed band of a PSI value; ordered Normal < Warning < Critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlertLevel {
    Normal,
    Warning,
    Critical,
}

/// A feature's status in a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureStatus {
    Normal,
    Warning,
    Critical,
    InsufficientData,
}

impl From<AlertLevel> for FeatureStatus {
    fn from(level: AlertLevel) -> Self {
        match level {
            AlertLevel::Normal => FeatureStatus::Normal,
            AlertLevel::Warning => FeatureStatus::Warning,
            AlertLevel::Critical => FeatureStatus::Critical,
        }
    }
}

/// The verdict on one feature's PSI: the band and the significance both kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub status: FeatureStatus,
    /// The fixed band of PSI alone.
    pub band: AlertLevel,
    /// psi > psi_critical_value.
    pub significant: bool,
    pub reason: String,
}

/// Reason of a feature with fewer than [`MIN_CURRENT`] current values.
pub const REASON_INSUFFICIENT: &str = "fewer than 30 current values";
/// Reason of a feature whose PSI is at or below its critical value.
pub const REASON_NOT_SIGNIFICANT: &str = "not significant at this sample size";

/// Band of `psi` alone: < warning Normal, < critical Warning, else Critical.
pub fn band(psi: f64, psi_warning: f64, psi_critical: f64) -> AlertLevel {
    if psi < psi_warning {
        AlertLevel::Normal
    } else if psi < psi_critical {
        AlertLevel::Warning
    } else {
        AlertLevel::Critical
    }
}

/// n_cur < [`MIN_CURRENT`] → InsufficientData; PSI ≤ critical value → Normal ("not significant
/// at this sample size"); else the band.
pub fn judge(cmp: &BinnedComparison, psi_warning: f64, psi_critical: f64) -> Judgement {
    let band = band(cmp.psi, psi_warning, psi_critical);
    let significant = cmp.psi > cmp.psi_critical_value;
    let (status, reason) = if cmp.n_cur < MIN_CURRENT {
        (
            FeatureStatus::InsufficientData,
            REASON_INSUFFICIENT.to_owned(),
        )
    } else if !significant {
        (FeatureStatus::Normal, REASON_NOT_SIGNIFICANT.to_owned())
    } else {
        let psi = cmp.psi;
        let reason = match band {
            AlertLevel::Normal => format!("PSI {psi:.4} < warning {psi_warning}"),
            AlertLevel::Warning => format!("PSI {psi:.4} ≥ warning {psi_warning}"),
            AlertLevel::Critical => format!("PSI {psi:.4} ≥ critical {psi_critical}"),
        };
        (band.into(), reason)
    };
    Judgement {
        status,
        band,
        significant,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comparison(psi: f64, psi_critical_value: f64, n_cur: u64) -> BinnedComparison {
        BinnedComparison {
            n_ref: 10_000,
            n_cur,
            psi,
            kl: 0.0,
            js_distance: 0.0,
            psi_critical_value,
            bins_used: 10,
        }
    }

    #[test]
    fn quantile_edges_interpolate_like_numpy_and_drop_duplicates() {
        assert_eq!(quantile_edges(&[], 10), Vec::<f64>::new());
        assert_eq!(
            quantile_edges(&[4.0, 1.0, 3.0, 2.0], 4),
            vec![1.75, 2.5, 3.25]
        );
        // Quantiles 0, 0, 0 collapse into one edge: two bins, not four.
        assert_eq!(quantile_edges(&[0.0, 0.0, 0.0, 0.0, 1.0], 4), vec![0.0]);
        assert_eq!(quantile_edges(&[7.0], 10), vec![7.0]);
        assert_eq!(quantile_edges(&[1.0, 2.0], 1), Vec::<f64>::new());
    }

    #[test]
    fn bins_are_right_closed() {
        let edges = [1.0, 2.0];
        assert_eq!(bin_index(&edges, f64::NEG_INFINITY), 0);
        assert_eq!(
            bin_index(&edges, 1.0),
            0,
            "a value on an edge falls in the lower bin"
        );
        assert_eq!(bin_index(&edges, 1.5), 1);
        assert_eq!(bin_index(&edges, 2.0), 1);
        assert_eq!(bin_index(&edges, 2.000_001), 2);
        assert_eq!(bin_index(&[], 5.0), 0);
        assert_eq!(
            bin_counts(&edges, &[0.0, 1.0, 1.5, 2.0, 3.0, 9.0]),
            vec![2, 2, 2]
        );
    }

    #[test]
    fn categories_are_sorted_with_an_unseen_bin_last() {
        let reference: Vec<String> = ["red", "other", "blue", "red"].map(String::from).to_vec();
        let categories = categories(&reference);
        assert_eq!(categories, ["blue", "other", "red"]);
        assert_eq!(
            category_index(&categories, "other"),
            1,
            "a real 'other' stays itself"
        );
        assert_eq!(category_index(&categories, "green"), 3);
        assert_eq!(category_index(&categories, UNSEEN_CATEGORY), 3);
        assert!(UNSEEN_CATEGORY.contains('\0'));
    }

    #[test]
    fn identical_distributions_have_no_divergence() {
        let cmp = compare_binned(&[10, 20, 30], &[20, 40, 60]);
        assert_eq!((cmp.n_ref, cmp.n_cur, cmp.bins_used), (60, 120, 3));
        assert!(cmp.psi.abs() < 1e-15 && cmp.kl.abs() < 1e-15 && cmp.js_distance < 1e-7);
    }

    #[test]
    fn empty_bins_are_floored_without_renormalising() {
        let cmp = compare_binned(&[5, 0], &[0, 5]);
        // p = (1, ε), q = (ε, 1): PSI = 2(1 − ε)·ln(1/ε), KL = (1 − ε)·ln(1/ε).
        let expected_psi = 2.0 * (1.0 - EPSILON) * (1.0 / EPSILON).ln();
        assert!((cmp.psi - expected_psi).abs() < 1e-12, "{}", cmp.psi);
        assert!((cmp.kl - expected_psi / 2.0).abs() < 1e-12, "{}", cmp.kl);
        // A proportion of exactly ε is not below it and stays.
        let at_floor = compare_binned(&[1, 9_999], &[1, 9_999]);
        assert_eq!(at_floor.psi, 0.0);
    }

    #[test]
    fn critical_value_scales_with_both_sample_sizes() {
        // chi2.ppf(0.95, 9) = 16.918977604620448 (SciPy).
        let crit = psi_critical_value(10, 1000, 1000, ALPHA);
        assert!(
            (crit - 16.918_977_604_620_448 * 0.002).abs() < 1e-12,
            "{crit}"
        );
        assert!(psi_critical_value(10, 1000, 100, ALPHA) > crit);
        assert_eq!(psi_critical_value(1, 1000, 1000, ALPHA), 0.0);
        assert!(psi_critical_value(10, 1000, 1000, 1.5).is_nan());
        assert_eq!(
            compare_binned(&[500, 500], &[30, 20]).psi_critical_value,
            psi_critical_value(2, 1000, 50, ALPHA)
        );
    }

    #[test]
    fn chi2_needs_two_columns_and_two_rows() {
        assert_eq!(chi2_contingency_p(&[0, 10, 0], &[0, 5, 0]), None);
        assert_eq!(chi2_contingency_p(&[0, 0], &[3, 4]), None);
        assert_eq!(chi2_contingency_p(&[10, 10], &[10, 10]), Some(1.0));
        // 2×2 [[10, 20], [20, 10]]: χ² = 6.666…, dof 1, p = 0.009823274507519235 (SciPy).
        let p = chi2_contingency_p(&[10, 20, 0], &[20, 10, 0]).expect("two columns");
        assert!((p - 0.009_823_274_507_519_235).abs() < 1e-15, "{p}");
    }

    #[test]
    fn ks_and_wasserstein_need_values() {
        assert_eq!(ks_2samp_asymp(&[], &[1.0]), None);
        assert_eq!(ks_2samp_asymp(&[1.0], &[2.0]), None, "round(1/2) = 0");
        assert_eq!(wasserstein_distance(&[1.0], &[]), None);
        let same = ks_2samp_asymp(&[3.0, 1.0, 2.0], &[1.0, 2.0, 3.0]).expect("values");
        assert_eq!(
            same,
            KsResult {
                statistic: 0.0,
                p_value: 1.0
            }
        );
        assert_eq!(wasserstein_distance(&[0.0, 1.0], &[1.0, 2.0]), Some(1.0));
        assert_eq!(wasserstein_distance(&[5.0], &[5.0]), Some(0.0));
    }

    #[test]
    fn judge_bands_psi_only_where_significant() {
        let (warning, critical) = (0.1, 0.25);
        let normal = judge(&comparison(0.05, 0.01, 1000), warning, critical);
        assert_eq!(
            (normal.status, normal.band, normal.significant),
            (FeatureStatus::Normal, AlertLevel::Normal, true)
        );
        let at_warning = judge(&comparison(0.1, 0.01, 1000), warning, critical);
        assert_eq!(
            (at_warning.status, at_warning.band),
            (FeatureStatus::Warning, AlertLevel::Warning)
        );
        let at_critical = judge(&comparison(0.25, 0.01, 1000), warning, critical);
        assert_eq!(
            (at_critical.status, at_critical.band),
            (FeatureStatus::Critical, AlertLevel::Critical)
        );
        assert_eq!(at_critical.reason, "PSI 0.2500 ≥ critical 0.25");
    }

    #[test]
    fn judge_calls_noise_on_small_samples_normal() {
        let noise = judge(&comparison(0.4, 0.5, 40), 0.1, 0.25);
        assert_eq!(noise.status, FeatureStatus::Normal);
        assert_eq!(
            noise.band,
            AlertLevel::Critical,
            "the band stays in the result"
        );
        assert!(!noise.significant);
        assert_eq!(noise.reason, REASON_NOT_SIGNIFICANT);
        // PSI equal to its critical value is not above it.
        assert!(!judge(&comparison(0.3, 0.3, 40), 0.1, 0.25).significant);
    }

    #[test]
    fn judge_never_calls_too_few_values_normal() {
        let thin = judge(&comparison(0.0, 0.5, MIN_CURRENT - 1), 0.1, 0.25);
        assert_eq!(thin.status, FeatureStatus::InsufficientData);
        assert_eq!(thin.reason, REASON_INSUFFICIENT);
        let drifted = judge(&comparison(3.0, 0.5, 29), 0.1, 0.25);
        assert_eq!(drifted.status, FeatureStatus::InsufficientData);
        assert_eq!(
            judge(&comparison(0.0, 0.5, MIN_CURRENT), 0.1, 0.25).status,
            FeatureStatus::Normal
        );
    }

    #[test]
    fn levels_order_and_serialise_as_the_seed_names_them() {
        assert!(
            AlertLevel::Normal < AlertLevel::Warning && AlertLevel::Warning < AlertLevel::Critical
        );
        assert_eq!(
            serde_json::to_string(&AlertLevel::Critical).ok().as_deref(),
            Some("\"CRITICAL\"")
        );
        assert_eq!(
            serde_json::to_string(&FeatureStatus::InsufficientData)
                .ok()
                .as_deref(),
            Some("\"insufficient_data\"")
        );
    }
}
