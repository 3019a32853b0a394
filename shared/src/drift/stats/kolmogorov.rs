//! The survival function of the two-sided one-sample Kolmogorov–Smirnov statistic D_n for a
//! finite n: SciPy's `scipy.stats.kstwo.sf(d, n)`, which `ks_2samp(method="asymp")` evaluates at
//! n = round(m·n/(m+n)). No Rust crate has it (statrs' KS test uses the limiting distribution),
//! so this is a port of SciPy's algorithm choice and methods, which follow Simard & L'Ecuyer,
//! "Computing the Two-Sided Kolmogorov-Smirnov Distribution", J. Stat. Softw. 39(11), 2011:
//!
//! - `kolmogn_sf` ← `_kolmogn(n, x, cdf=False)` in `scipy/stats/_ksstats.py` (branch thresholds
//!   kept exactly, so every (n, d) takes the method SciPy takes);
//! - `durbin_mtw_cdf` ← `_kolmogn_DMTW` (Durbin's matrix, Marsaglia–Tsang–Wang scaling);
//! - `pomeranz_cdf` ← `_kolmogn_Pomeranz` (Pomeranz's recursion, ACM Algorithm 487);
//! - `pelz_good_cdf` ← `_kolmogn_PelzGood` (Pelz & Good's asymptotic series);
//! - `smirnov_sf` ← `scipy.special.smirnov` (xsf's `cephes/kolmogorov.h`, `_smirnov`): the
//!   Birnbaum–Tingey sum for the one-sided statistic. SciPy sums it in double-double; here every
//!   term is evaluated in log space with the n·ln n parts cancelled analytically (Stirling with
//!   exact corrections), which stays within ~1e-12 of SciPy up to n = 10⁶ in plain f64.
//!
//! SciPy is BSD-3-Clause licensed (Copyright © 2001-2002 Enthought, Inc. 2003, SciPy
//! Developers); this is an independent Rust rendering of the same published methods.
//!
//! Tests: `shared/tests/drift_reference.rs` compares [`kolmogn_sf`] (through the public
//! `kstwo_sf`) with SciPy over a grid reaching every branch.
use std::f64::consts::{LN_2, PI};

use statrs::function::factorial::ln_factorial;

/// 2^128 and 2^-128: the rescaling steps SciPy uses against overflow and underflow.
const E128: i32 = 128;
const EP128: f64 = 3.402_823_669_209_385e38;
const EM128: f64 = 2.938_735_877_055_719e-39;
/// ln of the smallest subnormal (xsf's `MINLOG`): exp of anything below is 0.
const MIN_LOG: f64 = -7.451_332_191_019_412e2;
/// Above this n, xsf approximates the one-sided tail instead of summing n terms.
const SMIRNOV_MAX_COMPUTE_N: u64 = 1_000_000;

/// `scipy.stats.kstwo.sf(d, n)` = P(D_n > d) for n ≥ 1; NaN for n = 0.
pub(super) fn kolmogn_sf(n: u64, x: f64) -> f64 {
    if n == 0 || x.is_nan() {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        // Ruben–Gambino: for 1/(2n) ≤ x ≤ 1/n the CDF is n!/nⁿ·(2t−1)ⁿ.
        if t <= 0.5 {
            return 1.0;
        }
        let cdf = if n <= 140 {
            (1..=n).fold(1.0, |product, i| {
                product * (i as f64 * (1.0 / nf) * (2.0 * t - 1.0))
            })
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return clip(1.0 - cdf);
    }
    if t >= nf - 1.0 {
        // Ruben–Gambino: for x ≥ 1 − 1/n the SF is 2(1−x)ⁿ.
        return clip(2.0 * (1.0 - x).powf(nf));
    }
    if x >= 0.5 {
        // The two one-sided events are disjoint: exactly twice Smirnov's tail.
        return clip(2.0 * smirnov_sf(n, x));
    }
    let nxsquared = t * x;
    if n <= 140 {
        if nxsquared <= 0.754693 {
            return clip(1.0 - durbin_mtw_cdf(n, x));
        }
        if nxsquared <= 4.0 {
            return clip(1.0 - pomeranz_cdf(n, x));
        }
        return clip(2.0 * smirnov_sf(n, x));
    }
    if nxsquared >= 370.0 {
        return 0.0;
    }
    if nxsquared >= 2.2 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let cdf = if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_mtw_cdf(n, x)
    } else {
        pelz_good_cdf(n, x)
    };
    clip(1.0 - cdf)
}

fn clip(probability: f64) -> f64 {
    probability.clamp(0.0, 1.0)
}

/// ln(n!/nⁿ) by Stirling's series with n·ln n removed up front (SciPy's
/// `_log_nfactorial_div_n_pow_n`).
fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    // B_{2j}/(2j)/(2j−1) for j = 8..1, highest degree first.
    const STIRLING: [f64; 8] = [
        -2.955_065_359_477_124e-2,
        6.410_256_410_256_41e-3,
        -1.917_526_917_526_917_6e-3,
        8.417_508_417_508_417e-4,
        -5.952_380_952_380_952e-4,
        7.936_507_936_507_937e-4,
        -2.777_777_777_777_778e-3,
        8.333_333_333_333_333e-2,
    ];
    let rn = 1.0 / n;
    let series = STIRLING.iter().fold(0.0, |acc, c| acc * (rn / n) + c);
    n.ln() / 2.0 - n + (2.0 * PI).ln() / 2.0 + rn * series
}

/// x·2^exponent without overflowing an intermediate power of two.
fn ldexp(mut x: f64, mut exponent: i64) -> f64 {
    while exponent > 1000 {
        x *= 2f64.powi(1000);
        exponent -= 1000;
    }
    while exponent < -1000 {
        x *= 2f64.powi(-1000);
        exponent += 1000;
    }
    x * 2f64.powi(exponent as i32)
}

/// Square matrix product (row-major, m×m).
fn matmul(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    let mut product = vec![0.0; m * m];
    for i in 0..m {
        for l in 0..m {
            let a_il = a[i * m + l];
            if a_il == 0.0 {
                continue;
            }
            for j in 0..m {
                product[i * m + j] += a_il * b[l * m + j];
            }
        }
    }
    product
}

/// P(D_n ≤ d) by Durbin's matrix method: with d = (k − h)/n, the (k, k) entry of Hⁿ·n!/nⁿ for
/// an m×m matrix H, m = 2k − 1; O(m³ log n).
fn durbin_mtw_cdf(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let nd = nf * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;

    // v[j] = (1 − h^(j+1))/(j+1)!, w[j] = 1/j!.
    let mut v = vec![0.0; m];
    let mut w = vec![0.0; m];
    let mut factorial_inverse = 1.0;
    for j in 1..=m {
        w[j - 1] = factorial_inverse;
        factorial_inverse /= j as f64;
        v[j - 1] = (1.0 - h.powf(j as f64)) * factorial_inverse;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powf(m as f64) - 2.0 * h.powf(m as f64);
    v[m - 1] = (1.0 + tt) * factorial_inverse;

    let mut matrix = vec![0.0; m * m];
    for column in 1..m {
        for row in (column - 1)..m {
            matrix[row * m + column] = w[row - (column - 1)];
        }
    }
    for row in 0..m {
        matrix[row * m] = v[row];
    }
    for column in 0..m {
        matrix[(m - 1) * m + column] = v[m - 1 - column];
    }

    let mut power: Vec<f64> = (0..m * m)
        .map(|i| if i / m == i % m { 1.0 } else { 0.0 })
        .collect();
    let mut remaining = n;
    let mut exponent: i64 = 0;
    let mut matrix_exponent: i64 = 0;
    while remaining > 0 {
        if remaining % 2 == 1 {
            power = matmul(&power, &matrix, m);
            exponent += matrix_exponent;
        }
        matrix = matmul(&matrix, &matrix, m);
        matrix_exponent *= 2;
        if matrix[(k - 1) * m + (k - 1)].abs() > EP128 {
            matrix.iter_mut().for_each(|entry| *entry /= EP128);
            matrix_exponent += i64::from(E128);
        }
        remaining /= 2;
    }

    let mut p = power[(k - 1) * m + (k - 1)];
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < EM128 {
            p *= EP128;
            exponent -= i64::from(E128);
        }
    }
    ldexp(p, exponent)
}

/// Interval of non-zero entries of row i in Pomeranz's recursion (SciPy's
/// `_pomeranz_compute_j1j2`).
fn pomeranz_j1j2(i: i64, n: i64, ll: i64, ceilf: i64, roundf: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-ll - ceilf - 1, ll + ceilf - 1)
    } else {
        let (half, odd) = ((i + 1) / 2, (i + 1) % 2);
        if odd == 0 {
            if half == n + 1 {
                (n - ll - ceilf - 1, n + ll + ceilf - 1)
            } else {
                (half - 1 - ll - roundf - 1, half + ll - 1 + ceilf - 1)
            }
        } else {
            (half - 1 - ll - 1, half + ll + roundf - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// P(D_n ≤ x) by Pomeranz's recursion: 2n + 1 convolutions of a short row with Poisson-like
/// weights, rescaled against underflow.
fn pomeranz_cdf(n: u64, x: f64) -> f64 {
    let nf = n as f64;
    let ni = n as i64;
    let t = nf * x;
    let ll = t.floor() as i64;
    let f = t - ll as f64;
    let g = f.min(1.0 - f);
    let ceilf = i64::from(f > 0.0);
    let roundf = i64::from(f > 0.5);
    let npwrs = (2 * (ll + 1)) as usize;

    // (g/n)^m/m!, (2g/n)^m/m!, ((1−2g)/n)^m/m!
    let mut gpower = vec![1.0; npwrs];
    let mut twogpower = vec![1.0; npwrs];
    let mut onem2gpower = vec![1.0; npwrs];
    let (g_over_n, two_g_over_n, one_minus_two_g_over_n) =
        (g / nf, 2.0 * g / nf, (1.0 - 2.0 * g) / nf);
    for m in 1..npwrs {
        gpower[m] = gpower[m - 1] * g_over_n / m as f64;
        twogpower[m] = twogpower[m - 1] * two_g_over_n / m as f64;
        onem2gpower[m] = onem2gpower[m - 1] * one_minus_two_g_over_n / m as f64;
    }

    let mut v0 = vec![0.0; npwrs];
    let mut v1 = vec![0.0; npwrs];
    v1[0] = 1.0;
    let (mut v0_start, mut v1_start) = (0i64, 0i64);
    let mut exponent: i64 = 0;
    let (mut j1, _) = pomeranz_j1j2(0, ni, ll, ceilf, roundf);
    for i in 1..(2 * ni + 2) {
        let k1 = j1;
        std::mem::swap(&mut v0, &mut v1);
        std::mem::swap(&mut v0_start, &mut v1_start);
        v1.iter_mut().for_each(|entry| *entry = 0.0);
        let (new_j1, j2) = pomeranz_j1j2(i, ni, ll, ceilf, roundf);
        j1 = new_j1;
        let powers = if i == 1 || i == 2 * ni + 1 {
            &gpower
        } else if i % 2 == 1 {
            &twogpower
        } else {
            &onem2gpower
        };
        let ln2 = j2 - k1 + 1;
        if ln2 > 0 {
            // NumPy slices clip at the array end; so do these.
            let from = (k1 - v0_start).max(0) as usize;
            let previous = &v0[from.min(npwrs)..(from + ln2 as usize).min(npwrs)];
            let weights = &powers[..(ln2 as usize).min(npwrs)];
            let conv_start = j1 - k1;
            let conv_len = (j2 - j1 + 1).max(0) as usize;
            for (slot, out) in v1.iter_mut().take(conv_len).enumerate() {
                let index = conv_start + slot as i64;
                if index < 0 {
                    continue;
                }
                let index = index as usize;
                // Full convolution: Σ previous[a]·weights[index − a].
                let low = index.saturating_sub(weights.len().saturating_sub(1));
                let high = index.min(previous.len().saturating_sub(1));
                let mut sum = 0.0;
                for a in low..=high {
                    if let (Some(p), Some(w)) = (previous.get(a), weights.get(index - a)) {
                        sum += p * w;
                    }
                }
                *out = sum;
            }
            let max = v1.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if 0.0 < max && max < EM128 {
                v1.iter_mut().for_each(|entry| *entry *= EP128);
                exponent -= i64::from(E128);
            }
            v1_start = v0_start + j1 - k1;
        }
    }

    let index = ni - v1_start;
    let mut answer = if index >= 0 {
        v1.get(index as usize).copied().unwrap_or(0.0)
    } else {
        0.0
    };
    for m in 1..=n {
        if answer.abs() > EP128 {
            answer *= EM128;
            exponent += i64::from(E128);
        }
        answer *= m as f64;
    }
    ldexp(answer, exponent)
}

/// P(D_n ≤ x) by the Pelz–Good series (Li-Chien/Korolyuk's expansion in 1/√n, transformed with
/// Jacobi's theta identity to converge for small √n·x).
fn pelz_good_cdf(n: u64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let z = nf.sqrt() * x;
    let (zsquared, zthree, zfour, zsix) = (z.powi(2), z.powi(3), z.powi(4), z.powi(6));
    let pi_squared = PI.powi(2);
    let pi_four = PI.powi(4);
    let pi_six = PI.powi(6);
    let sqrt_2pi = (2.0 * PI).sqrt();

    let qlog = -pi_squared / 8.0 / zsquared;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();

    let k1a = -zsquared;
    let k1b = pi_squared / 4.0;
    let k2a = 6.0 * zsix + 2.0 * zfour;
    let k2b = (2.0 * zfour - 5.0 * zsquared) * pi_squared / 4.0;
    let k2c = pi_four * (1.0 - 2.0 * zsquared) / 16.0;
    let k3d = pi_six * (5.0 - 30.0 * zsquared) / 64.0;
    let k3c = pi_four * (-60.0 * zsquared + 212.0 * zfour) / 16.0;
    let k3b = pi_squared * (135.0 * zfour - 96.0 * zsix) / 4.0;
    let k3a = -30.0 * zsix - 90.0 * z.powi(8);

    // Horner scheme over the odd integers for Σ c_i q^(i²).
    let mut terms = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for k in (1..=maxk).rev() {
        let m = (2 * k - 1) as f64;
        let (msquared, mfour, msix) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf((8 * k) as f64);
        let coefficients = [
            1.0,
            k1a + k1b * msquared,
            k2a + k2b * msquared + k2c * mfour,
            k3a + k3b * msquared + k3c * mfour + k3d * msix,
        ];
        for (term, coefficient) in terms.iter_mut().zip(coefficients) {
            *term = *term * qpower + coefficient;
        }
    }
    let divisors = [z, 6.0 * zfour, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (term, divisor) in terms.iter_mut().zip(divisors) {
        *term = *term * q * sqrt_2pi / divisor;
    }

    // The terms over all integers k of K₂ and K₃.
    let q = (-pi_squared / 2.0 / zsquared).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut k2extra, mut k3extra) = (0.0, 0.0);
    for k in (1..=maxk).rev() {
        let ksquared = (k * k) as f64;
        let kspi = PI * k as f64;
        let qpower = q.powf(ksquared);
        k2extra += ksquared * qpower;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpower;
    }
    terms[2] += k2extra * (pi_squared * sqrt_2pi / (-36.0 * zthree));
    terms[3] += k3extra * (pi_squared * sqrt_2pi / (216.0 * zsix));
    terms
        .iter()
        .enumerate()
        .map(|(i, term)| term / nf.powf(i as f64 / 2.0))
        .sum()
}

/// `scipy.special.smirnov(n, x)` = P(D⁺_n > x), the one-sided tail, by the Birnbaum–Tingey sum
/// x·Σ_{v=0}^{⌊n(1−x)⌋} C(n,v)(1 − x − v/n)^(n−v)(x + v/n)^(v−1), all terms positive.
fn smirnov_sf(n: u64, x: f64) -> f64 {
    if x.is_nan() || !(0.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let nx = nf * x;
    let nx_floor = nx.floor();
    let alpha = nx - nx_floor;
    if nx_floor == 0.0 || (nx_floor == 1.0 && alpha == 0.0) {
        return 1.0 - x * (1.0 + x).powf(nf - 1.0);
    }
    if -2.0 * nf * x * x < MIN_LOG {
        return 0.0;
    }
    if nx_floor >= nf - 1.0 {
        return (1.0 - x).powf(nf);
    }
    if n > SMIRNOV_MAX_COMPUTE_N {
        let log_p = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        return if log_p < -LN_2 {
            log_p.exp()
        } else {
            1.0 - (-log_p.exp_m1())
        };
    }
    // Terms v = 0..=n − ⌊nx⌋ − 1 (those with 1 − x − v/n > 0), summed in log space relative to
    // the largest so far, so none underflows on its own and no n-long buffer is needed.
    let last = n - nx_floor as u64 - 1;
    let ln_x = x.ln();
    let (mut max, mut scaled) = (f64::NEG_INFINITY, 0.0);
    for v in 0..=last {
        let log_term = if v == 0 {
            // x·(1−x)ⁿ/x
            nf * (-x).ln_1p()
        } else {
            ln_x + log_birnbaum_tingey_term(n, nx, x, v)
        };
        if log_term > max {
            scaled = scaled * (max - log_term).exp() + 1.0;
            max = log_term;
        } else {
            scaled += (log_term - max).exp();
        }
    }
    if !max.is_finite() {
        return 0.0;
    }
    clip(max.exp() * scaled)
}

/// ln[C(n,v)·(1 − x − v/n)^(n−v)·(x + v/n)^(v−1)] for 1 ≤ v ≤ n − 1. With Stirling's
/// ln k! = k ln k − k + ½ln(2πk) + δ(k), the n·ln n, v·ln v and (n−v)·ln(n−v) parts cancel
/// against the powers, leaving
/// v·ln(1 + nx/v) + (n−v)·ln(1 − nx/(n−v)) − ln(x + v/n) + ½ln(n/(2πv(n−v))) + δ(n) − δ(v) − δ(n−v),
/// whose parts are of the size of the result instead of n·ln n.
fn log_birnbaum_tingey_term(n: u64, nx: f64, x: f64, v: u64) -> f64 {
    let (nf, vf) = (n as f64, v as f64);
    let rest = nf - vf;
    vf * (nx / vf).ln_1p() + rest * (-nx / rest).ln_1p() - (x + vf / nf).ln()
        + 0.5 * (nf / (2.0 * PI * vf * rest)).ln()
        + stirling_correction(n)
        - stirling_correction(v)
        - stirling_correction(n - v)
}

/// δ(k) = ln k! − (k ln k − k + ½ln(2πk)): exact from the factorial table for small k, the
/// asymptotic series (error below 1e-17 there) above.
fn stirling_correction(k: u64) -> f64 {
    if k <= 30 {
        let kf = k as f64;
        return ln_factorial(k) - (kf * kf.ln() - kf + 0.5 * (2.0 * PI * kf).ln());
    }
    let kf = k as f64;
    let r = 1.0 / kf;
    let r2 = r * r;
    r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0 - r2 / 1680.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stirling_correction_is_continuous_at_the_switch() {
        let exact_31 = ln_factorial(31) - (31.0 * 31f64.ln() - 31.0 + 0.5 * (2.0 * PI * 31.0).ln());
        assert!((stirling_correction(31) - exact_31).abs() < 1e-14);
    }

    #[test]
    fn smirnov_small_n_matches_the_direct_sum() {
        // Direct Birnbaum–Tingey sum with exact binomials, fine for small n.
        for n in [2u64, 5, 17, 40] {
            for x in [0.07, 0.2, 0.33, 0.5, 0.8] {
                let nf = n as f64;
                let last = (nf * (1.0 - x)).ceil() as u64 - 1;
                let mut sum = 0.0;
                for v in 0..=last {
                    let binomial = statrs::function::factorial::binomial(n, v);
                    let vf = v as f64;
                    sum +=
                        binomial * (1.0 - x - vf / nf).powf(nf - vf) * (x + vf / nf).powf(vf - 1.0);
                }
                let direct = x * sum;
                let ours = smirnov_sf(n, x);
                assert!(
                    (ours - direct).abs() <= 1e-12 * direct.abs().max(1e-300),
                    "n={n} x={x}: {ours} vs {direct}"
                );
            }
        }
    }

    #[test]
    fn out_of_range_and_degenerate_inputs() {
        assert!(kolmogn_sf(0, 0.3).is_nan());
        assert_eq!(kolmogn_sf(10, 0.0), 1.0);
        assert_eq!(kolmogn_sf(10, 1.0), 0.0);
        assert_eq!(kolmogn_sf(10, 0.04), 1.0);
    }
}
