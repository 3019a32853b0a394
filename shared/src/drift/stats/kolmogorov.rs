//! The distribution of the two-sided one-sample Kolmogorov–Smirnov statistic (SciPy's `kstwo`).
//!
//! First version: the limiting Kolmogorov distribution at √n·D; the exact finite-n port of
//! SciPy's `_kolmogn` replaces it.

/// `scipy.stats.kstwo.sf(d, n)`.
pub(super) fn kolmogn_sf(n: u64, d: f64) -> f64 {
    if n == 0 {
        return f64::NAN;
    }
    let x = (n as f64).sqrt() * d;
    if x <= 0.0 {
        return 1.0;
    }
    // Q(x) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²x²}
    let mut sum = 0.0;
    for k in 1..=100u32 {
        let k = f64::from(k);
        let term = (-2.0 * k * k * x * x).exp();
        sum += if k as u32 % 2 == 1 { term } else { -term };
        if term < 1e-300 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}
