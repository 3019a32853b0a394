#!/usr/bin/env python3
"""Writes shared/tests/fixtures/drift_reference.json: the drift statistics of issue 12 computed
by NumPy, SciPy and Fairlearn, which shared/tests/drift_reference.rs compares Vigil's with (1e-9
relative).

Run by hand (not part of CI; the output is committed):

    python3 -m venv /tmp/scipy-venv && /tmp/scipy-venv/bin/pip install numpy scipy fairlearn
    /tmp/scipy-venv/bin/python tests/drift_reference.py

Every case is seeded, so a rerun with the same library versions writes the same file.

Inputs are written so both sides read the same bits: values drawn with NumPy are rounded to six
decimals (few enough digits that any JSON parser reads them exactly, and they make ties), and the
large samples are not stored at all but regenerated on both sides from a SplitMix64 stream
(uniform = (z >> 11) * 2**-53, then shift + scale * u: exact IEEE arithmetic everywhere).
"""
import json
import math
import pathlib
import sys

import numpy as np
import scipy
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr
from scipy.stats import chi2, chi2_contingency, ks_2samp, kstwo, wasserstein_distance

EPSILON = 1e-4
ALPHA = 0.05
MASK = (1 << 64) - 1
OUT = pathlib.Path(__file__).resolve().parent.parent / "shared/tests/fixtures/drift_reference.json"


def splitmix64_uniforms(seed, n):
    state = seed & MASK
    out = np.empty(n)
    for i in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        out[i] = (z >> 11) * 2.0**-53
    return out


def generated(spec):
    return spec["shift"] + spec["scale"] * splitmix64_uniforms(spec["seed"], spec["n"])


def fnum(x):
    """A float for JSON; NaN/inf are not JSON, and no reference value should be one."""
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"non-finite reference value {x}")
    return x


def floored(counts):
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    p = counts / total if total > 0 else np.zeros_like(counts)
    return np.where(p < EPSILON, EPSILON, p)


def binned(ref_counts, cur_counts):
    p, q = floored(ref_counts), floored(cur_counts)
    k = len(p)
    n_ref, n_cur = int(np.sum(ref_counts)), int(np.sum(cur_counts))
    crit = chi2.ppf(1 - ALPHA, k - 1) * (1 / n_ref + 1 / n_cur) if k > 1 else 0.0
    table = np.array([ref_counts, cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    chi2_p = None
    if table.shape[1] >= 2 and table[0].sum() > 0 and table[1].sum() > 0:
        chi2_p = fnum(chi2_contingency(table, correction=False).pvalue)
    return {
        "ref_counts": [int(c) for c in ref_counts],
        "cur_counts": [int(c) for c in cur_counts],
        "n_ref": n_ref,
        "n_cur": n_cur,
        "psi": fnum(np.sum((q - p) * np.log(q / p))),
        "kl": fnum(np.sum(rel_entr(p, q))),
        "js_distance": fnum(jensenshannon(p, q)),
        "psi_critical_value": fnum(crit),
        "bins_used": k,
        "chi2_p": chi2_p,
    }


def numeric_case(name, reference, current, bins=10):
    """reference/current: arrays, or SplitMix64 specs (dicts) for the large samples."""
    ref = generated(reference) if isinstance(reference, dict) else np.round(np.asarray(reference, float), 6)
    cur = generated(current) if isinstance(current, dict) else np.round(np.asarray(current, float), 6)
    edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins))
    ref_counts = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=len(edges) + 1)
    cur_counts = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=len(edges) + 1)
    case = {
        "name": name,
        "bins": bins,
        "reference": reference if isinstance(reference, dict) else [float(x) for x in ref],
        "current": current if isinstance(current, dict) else [float(x) for x in cur],
        "edges": [fnum(e) for e in edges],
    }
    case.update(binned(ref_counts, cur_counts))
    if len(ref) == 1 and len(cur) == 1:
        # round(1*1/2) = 0: SciPy's kstwo has no n = 0 and answers NaN; Vigil answers None.
        assert math.isnan(ks_2samp(ref, cur, method="asymp").pvalue)
        case["ks_statistic"] = None
        case["ks_p_value"] = None
    else:
        ks = ks_2samp(ref, cur, method="asymp")
        case["ks_statistic"] = fnum(ks.statistic)
        case["ks_p_value"] = fnum(ks.pvalue)
    case["wasserstein"] = fnum(wasserstein_distance(ref, cur))
    return case


def categorical_case(name, reference, current):
    categories = sorted(set(reference))
    index = {c: i for i, c in enumerate(categories)}
    k = len(categories) + 1  # the unseen-category bin last
    ref_counts = np.bincount([index[c] for c in reference], minlength=k)
    cur_counts = np.bincount([index.get(c, len(categories)) for c in current], minlength=k)
    case = {"name": name, "reference": reference, "current": current, "categories": categories}
    case.update(binned(ref_counts, cur_counts))
    return case


def kstwo_grid():
    """kstwo.sf(d, n) over every branch of SciPy's _kolmogn (SF side)."""
    rows = []
    ns = [1, 2, 3, 4, 5, 7, 10, 20, 50, 100, 139, 140, 141, 200, 500, 1000, 5000, 20000,
          100000, 100001, 400000, 1000000, 1000001, 3000000]
    for n in ns:
        ds = set()
        # Ruben-Gambino below 1/n, the two ends, x >= 0.5
        for t in (0.4, 0.5, 0.6, 0.75, 0.99, 1.0):
            ds.add(t / n)
        ds.update({1 - 1.5 / n, 1 - 1 / n, 1 - 0.5 / n, 0.5, 0.6, 0.9})
        # n x^2 across the method thresholds: 0.754693, 2.2, 4, 18, 370
        for nx2 in (0.05, 0.2, 0.5, 0.75, 0.76, 1.0, 1.5, 2.19, 2.21, 3.0, 3.99, 4.01, 6.0,
                    10.0, 17.9, 18.1, 40.0, 100.0, 200.0, 369.0, 371.0, 500.0):
            ds.add(math.sqrt(nx2 / n))
        # n x^1.5 around 1.4 (Durbin matrix vs Pelz-Good above n = 140)
        for nx15 in (0.9, 1.39, 1.41, 2.0):
            ds.add((nx15 / n) ** (2 / 3))
        for d in sorted(ds):
            if 0 < d < 1:
                sf = float(kstwo.sf(d, n))
                if math.isnan(sf):
                    continue
                rows.append({"n": n, "d": d, "sf": sf})
    return rows


def bias_cases():
    """Fairlearn's differences on row sets where every group is large enough and has both labels."""
    try:
        import fairlearn
        from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
    except ImportError:
        return None, []
    rng = np.random.default_rng(1212)
    cases = []
    for name, groups in [
        ("two_groups", {"a": (120, 0.5, 0.3), "b": (80, 0.3, 0.4)}),
        ("three_groups", {"x": (60, 0.6, 0.5), "y": (45, 0.4, 0.5), "z": (200, 0.55, 0.2)}),
        ("near_equal", {"m": (300, 0.5, 0.5), "f": (310, 0.52, 0.5)}),
    ]:
        rows = []
        for group, (n, selection, positive_rate) in groups.items():
            for _ in range(n):
                label = bool(rng.random() < positive_rate)
                # predictions correlate with labels a bit, differently per group
                prediction = bool(rng.random() < (selection + (0.2 if label else -0.1)))
                rows.append([group, label, prediction])
        y_true = np.array([r[1] for r in rows], dtype=int)
        y_pred = np.array([r[2] for r in rows], dtype=int)
        sensitive = np.array([r[0] for r in rows])
        cases.append({
            "name": name,
            "rows": rows,
            "demographic_parity_difference": fnum(
                demographic_parity_difference(y_true, y_pred, sensitive_features=sensitive)),
            "equalized_odds_difference": fnum(
                equalized_odds_difference(y_true, y_pred, sensitive_features=sensitive)),
        })
    return fairlearn.__version__, cases


def main():
    rng = np.random.default_rng(20261202)
    numeric = [
        numeric_case("normal_small_shift", rng.normal(0, 1, 2000), rng.normal(0.1, 1, 1500)),
        numeric_case("normal_large_shift", rng.normal(0, 1, 5000), rng.normal(1, 1.5, 3000)),
        numeric_case("normal_same", rng.normal(5, 2, 1000), rng.normal(5, 2, 1000)),
        numeric_case("normal_20_bins", rng.normal(0, 1, 3000), rng.normal(0, 1.2, 400), bins=20),
        numeric_case("normal_5_bins_tiny_current", rng.normal(0, 1, 500), rng.normal(0.5, 1, 31), bins=5),
        numeric_case("heavy_ties_integers", rng.integers(0, 4, 1000), rng.integers(0, 5, 800)),
        numeric_case("spike_at_zero",
                     np.where(rng.random(2000) < 0.7, 0.0, rng.normal(0, 1, 2000)),
                     np.where(rng.random(900) < 0.4, 0.0, rng.normal(0.3, 1, 900))),
        numeric_case("constant_reference", np.full(100, 3.5), rng.normal(3.5, 0.1, 60)),
        numeric_case("disjoint_zero_count_bins", rng.normal(0, 1, 1000), rng.normal(10, 1, 200)),
        numeric_case("lognormal_tail", rng.lognormal(0, 1, 4000), rng.lognormal(0.2, 1.1, 2500)),
    ]
    edges_ref = np.round(rng.normal(0, 1, 500), 6)
    on_edges = np.unique(np.quantile(edges_ref, np.arange(1, 10) / 10))
    numeric.append(numeric_case(
        "values_exactly_on_edges", edges_ref,
        np.concatenate([np.repeat(on_edges, 5), rng.normal(0, 1, 100)])))
    for n_ref in range(1, 6):
        for n_cur in range(1, 6):
            numeric.append(numeric_case(
                f"tiny_{n_ref}_{n_cur}", rng.normal(0, 1, n_ref), rng.normal(0.5, 1, n_cur), bins=4))
    large = dict(seed=7, n=100000, shift=0.0, scale=1.0)
    for shift in (0.0, 0.003, 0.01, 0.02, 0.3):
        numeric.append(numeric_case(
            f"large_uniform_shift_{shift}", large,
            dict(seed=11, n=100000, shift=shift, scale=1.0)))
    numeric.append(numeric_case(
        "large_unequal_sizes", dict(seed=3, n=50000, shift=0.0, scale=2.0),
        dict(seed=5, n=7000, shift=0.05, scale=2.0)))

    letters = list("abcde")
    categorical = [
        categorical_case("letters_shift",
                         list(rng.choice(letters, 1000, p=[0.4, 0.3, 0.15, 0.1, 0.05])),
                         list(rng.choice(letters, 700, p=[0.2, 0.3, 0.2, 0.2, 0.1]))),
        categorical_case("unseen_categories",
                         list(rng.choice(letters, 800)),
                         list(rng.choice(letters + ["f", "zzz"], 600))),
        categorical_case("real_other_category",
                         list(rng.choice(["other", "red", "blue"], 300)),
                         list(rng.choice(["other", "red", "green"], 300))),
        categorical_case("code_point_order",
                         list(rng.choice(["Zebra", "apple", "\u00e9clair", "\u65e5\u672c", "_x"], 500)),
                         list(rng.choice(["Zebra", "apple", "\u00e9clair", "new"], 120))),
        categorical_case("single_category", ["only"] * 50, ["only"] * 40 + ["else"] * 2),
    ]
    for case in categorical:
        case["reference"] = [str(x) for x in case["reference"]]
        case["current"] = [str(x) for x in case["current"]]

    counts = [
        binned([10, 0, 5, 0], [3, 0, 0, 7]),
        binned([1000, 1000, 1000], [999, 1001, 1000]),
        binned([5], [7]),
        binned([0, 40, 60], [50, 50, 0]),
        binned([100000, 1, 1, 1], [1, 100000, 1, 1]),
    ]

    fairlearn_version, bias = bias_cases()
    fixture = {
        "generated_by": "tests/drift_reference.py",
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "fairlearn": fairlearn_version,
        "python": sys.version.split()[0],
        "epsilon": EPSILON,
        "alpha": ALPHA,
        "numeric": numeric,
        "categorical": categorical,
        "counts": counts,
        "kstwo": kstwo_grid(),
        "bias": bias,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes): {len(numeric)} numeric, "
          f"{len(categorical)} categorical, {len(counts)} count, {len(fixture['kstwo'])} kstwo, "
          f"{len(bias)} bias cases")


if __name__ == "__main__":
    main()
