//! Vigil's drift statistics against NumPy/SciPy/Fairlearn reference values
//! (`fixtures/drift_reference.json`, written by `tests/drift_reference.py`): every number to 1e-9
//! relative, counts and bins exactly.
use std::collections::BTreeMap;

use serde_json::Value;
use vigil_shared::drift::bias::{GroupCounts, group_report};
use vigil_shared::drift::stats::{
    self, bin_counts, categories, category_index, chi2_contingency_p, compare_binned,
    ks_2samp_asymp, kstwo_sf, quantile_edges, wasserstein_distance,
};

const RELATIVE: f64 = 1e-9;
const ABSOLUTE_NEAR_ZERO: f64 = 1e-12;

fn fixture() -> Value {
    let text = include_str!("fixtures/drift_reference.json");
    serde_json::from_str(text).expect("fixture parses")
}

/// A statistic (PSI, KL, JS, Wasserstein, D, an edge): 1e-9 relative, or 1e-12 absolute near 0.
fn assert_close(actual: f64, expected: f64, what: &str) {
    let diff = (actual - expected).abs();
    assert!(
        diff <= RELATIVE * expected.abs() || diff <= ABSOLUTE_NEAR_ZERO,
        "{what}: {actual:e} vs reference {expected:e} (relative {:e})",
        diff / expected.abs()
    );
}

/// A probability: 1e-9 relative however small; below 1e-300 either may be 0.
fn assert_p_close(actual: f64, expected: f64, what: &str) {
    if expected < 1e-300 && actual < 1e-300 {
        assert!(actual >= 0.0, "{what}: negative probability {actual:e}");
        return;
    }
    let diff = (actual - expected).abs();
    assert!(
        diff <= RELATIVE * expected.abs(),
        "{what}: {actual:e} vs reference {expected:e} (relative {:e})",
        diff / expected.abs()
    );
}

fn f64_of(value: &Value, what: &str) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is a number: {value}"))
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| f64_of(v, "element"))
        .collect()
}

fn counts(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_u64().expect("count"))
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_str().expect("string").to_owned())
        .collect()
}

/// The SplitMix64 stream of the script: uniform = (z >> 11)·2⁻⁵³, value = shift + scale·u.
fn splitmix_sample(spec: &Value) -> Vec<f64> {
    let mut state = spec["seed"].as_u64().expect("seed");
    let n = spec["n"].as_u64().expect("n");
    let shift = f64_of(&spec["shift"], "shift");
    let scale = f64_of(&spec["scale"], "scale");
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let uniform = (z >> 11) as f64 * 2f64.powi(-53);
            shift + scale * uniform
        })
        .collect()
}

fn sample(value: &Value) -> Vec<f64> {
    if value.is_object() {
        splitmix_sample(value)
    } else {
        floats(value)
    }
}

/// The fields every binned case shares: PSI, KL, JS, critical value, χ² p.
fn check_binned(case: &Value, reference: &[u64], current: &[u64], name: &str) {
    assert_eq!(
        reference,
        counts(&case["ref_counts"]),
        "{name}: reference counts"
    );
    assert_eq!(
        current,
        counts(&case["cur_counts"]),
        "{name}: current counts"
    );
    let cmp = compare_binned(reference, current);
    assert_eq!(
        cmp.n_ref,
        case["n_ref"].as_u64().expect("n_ref"),
        "{name}: n_ref"
    );
    assert_eq!(
        cmp.n_cur,
        case["n_cur"].as_u64().expect("n_cur"),
        "{name}: n_cur"
    );
    assert_eq!(
        cmp.bins_used as u64,
        case["bins_used"].as_u64().expect("bins_used"),
        "{name}: bins_used"
    );
    assert_close(
        cmp.psi,
        f64_of(&case["psi"], "psi"),
        &format!("{name}: psi"),
    );
    assert_close(cmp.kl, f64_of(&case["kl"], "kl"), &format!("{name}: kl"));
    assert_close(
        cmp.js_distance,
        f64_of(&case["js_distance"], "js"),
        &format!("{name}: js_distance"),
    );
    assert_close(
        cmp.psi_critical_value,
        f64_of(&case["psi_critical_value"], "crit"),
        &format!("{name}: psi_critical_value"),
    );
    let chi2 = chi2_contingency_p(reference, current);
    match case["chi2_p"].as_f64() {
        Some(expected) => assert_p_close(
            chi2.unwrap_or_else(|| panic!("{name}: chi2 p missing")),
            expected,
            &format!("{name}: chi2_p"),
        ),
        None => assert_eq!(chi2, None, "{name}: chi2 p where SciPy has none"),
    }
}

#[test]
fn numeric_features_match_numpy_and_scipy() {
    let fixture = fixture();
    let cases = fixture["numeric"].as_array().expect("numeric cases");
    assert!(cases.len() >= 40, "the fixture has its numeric cases");
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let bins = case["bins"].as_u64().expect("bins") as usize;
        let reference = sample(&case["reference"]);
        let current = sample(&case["current"]);

        let edges = quantile_edges(&reference, bins);
        let expected_edges = floats(&case["edges"]);
        assert_eq!(edges.len(), expected_edges.len(), "{name}: edge count");
        for (edge, expected) in edges.iter().zip(&expected_edges) {
            assert_close(*edge, *expected, &format!("{name}: edge"));
        }
        check_binned(
            case,
            &bin_counts(&edges, &reference),
            &bin_counts(&edges, &current),
            name,
        );

        let ks = ks_2samp_asymp(&reference, &current);
        match case["ks_statistic"].as_f64() {
            Some(statistic) => {
                let ks = ks.unwrap_or_else(|| panic!("{name}: KS missing"));
                assert_close(ks.statistic, statistic, &format!("{name}: ks_statistic"));
                assert_p_close(
                    ks.p_value,
                    f64_of(&case["ks_p_value"], "ks p"),
                    &format!("{name}: ks_p_value"),
                );
            }
            None => assert_eq!(ks, None, "{name}: KS where SciPy answers NaN"),
        }
        let wasserstein = wasserstein_distance(&reference, &current).expect("non-empty samples");
        assert_close(
            wasserstein,
            f64_of(&case["wasserstein"], "wasserstein"),
            &format!("{name}: wasserstein"),
        );
    }
}

#[test]
fn categorical_features_match_scipy() {
    let fixture = fixture();
    for case in fixture["categorical"]
        .as_array()
        .expect("categorical cases")
    {
        let name = case["name"].as_str().expect("name");
        let reference = strings(&case["reference"]);
        let current = strings(&case["current"]);
        let categories = categories(&reference);
        assert_eq!(
            categories,
            strings(&case["categories"]),
            "{name}: categories"
        );
        let count = |values: &[String]| {
            let mut counts = vec![0u64; categories.len() + 1];
            for value in values {
                counts[category_index(&categories, value)] += 1;
            }
            counts
        };
        check_binned(case, &count(&reference), &count(&current), name);
    }
}

#[test]
fn count_vectors_match_scipy() {
    let fixture = fixture();
    for (i, case) in fixture["counts"]
        .as_array()
        .expect("count cases")
        .iter()
        .enumerate()
    {
        let reference = counts(&case["ref_counts"]);
        let current = counts(&case["cur_counts"]);
        check_binned(case, &reference, &current, &format!("counts[{i}]"));
    }
}

#[test]
fn kstwo_survival_function_matches_scipy_on_every_branch() {
    let fixture = fixture();
    let rows = fixture["kstwo"].as_array().expect("kstwo grid");
    assert!(rows.len() > 500, "the grid reaches every branch");
    for row in rows {
        let n = row["n"].as_u64().expect("n");
        let d = f64_of(&row["d"], "d");
        let expected = f64_of(&row["sf"], "sf");
        assert_p_close(kstwo_sf(n, d), expected, &format!("kstwo.sf({d:e}, {n})"));
    }
}

#[test]
fn bias_differences_match_fairlearn() {
    let fixture = fixture();
    let cases = fixture["bias"].as_array().expect("bias cases");
    assert!(!cases.is_empty(), "the fixture has Fairlearn cases");
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let mut groups: BTreeMap<String, GroupCounts> = BTreeMap::new();
        for row in case["rows"].as_array().expect("rows") {
            let group = row[0].as_str().expect("group").to_owned();
            let label = row[1].as_bool().expect("label");
            let prediction = row[2].as_bool().expect("prediction");
            groups
                .entry(group)
                .or_default()
                .add(prediction, Some(label));
        }
        let report = group_report("group", &groups, 0.1);
        assert_close(
            report
                .demographic_parity_difference
                .expect("every group is large enough"),
            f64_of(&case["demographic_parity_difference"], "dpd"),
            &format!("{name}: demographic parity difference"),
        );
        assert_close(
            report
                .equalized_odds_difference
                .expect("every group has both labels"),
            f64_of(&case["equalized_odds_difference"], "eod"),
            &format!("{name}: equalized odds difference"),
        );
    }
}

#[test]
fn fixture_constants_are_the_module_constants() {
    let fixture = fixture();
    assert_eq!(f64_of(&fixture["epsilon"], "epsilon"), stats::EPSILON);
    assert_eq!(f64_of(&fixture["alpha"], "alpha"), stats::ALPHA);
}
