//! Group fairness of a binary classifier, with Fairlearn's definitions (demographic parity
//! difference = max − min selection rate over groups; equalized odds difference = the larger of
//! the TPR gap and the FPR gap), made honest about thin evidence: a group with fewer than
//! [`MIN_GROUP`] rows is listed but left out of max/min, a rate without its denominator (TPR
//! with no positives, FPR with no negatives) is null and left out, and fewer than two groups
//! left make the metric `insufficient_data` instead of a number computed from noise.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Groups with fewer rows than this are `insufficient_data` and excluded from the gaps.
pub const MIN_GROUP: u64 = 30;

/// Foldable per-group counts, from rows with a binary prediction, an optional label and a
/// group value. Counts only, so windows and batches merge exactly and in any order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCounts {
    /// Rows.
    pub n: u64,
    /// Rows predicted positive.
    pub selected: u64,
    /// Rows labelled positive.
    pub positives: u64,
    /// Rows labelled positive and predicted positive.
    pub true_positives: u64,
    /// Rows labelled negative.
    pub negatives: u64,
    /// Rows labelled negative and predicted positive.
    pub false_positives: u64,
}

impl GroupCounts {
    /// Folds in one row; a row without a label counts for the selection rate only.
    pub fn add(&mut self, prediction: bool, label: Option<bool>) {
        self.n += 1;
        self.selected += u64::from(prediction);
        match label {
            Some(true) => {
                self.positives += 1;
                self.true_positives += u64::from(prediction);
            }
            Some(false) => {
                self.negatives += 1;
                self.false_positives += u64::from(prediction);
            }
            None => {}
        }
    }

    /// Adds another fold of the same group.
    pub fn merge(&mut self, other: &GroupCounts) {
        self.n += other.n;
        self.selected += other.selected;
        self.positives += other.positives;
        self.true_positives += other.true_positives;
        self.negatives += other.negatives;
        self.false_positives += other.false_positives;
    }

    fn selection_rate(&self) -> Option<f64> {
        ratio(self.selected, self.n)
    }

    fn tpr(&self) -> Option<f64> {
        ratio(self.true_positives, self.positives)
    }

    fn fpr(&self) -> Option<f64> {
        ratio(self.false_positives, self.negatives)
    }
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// One group's rates; all listed, even when the group is too small to count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRates {
    pub group: String,
    pub n: u64,
    pub selection_rate: Option<f64>,
    /// None when the group has no labelled positives.
    pub tpr: Option<f64>,
    /// None when the group has no labelled negatives.
    pub fpr: Option<f64>,
    /// n < [`MIN_GROUP`]: listed, left out of max/min.
    pub insufficient_data: bool,
}

/// Verdict of a bias report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BiasStatus {
    Normal,
    Alert,
    InsufficientData,
}

/// Group rates and gaps of one group attribute.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BiasReport {
    pub attribute: String,
    /// Sorted by group.
    pub groups: Vec<GroupRates>,
    /// max − min selection rate over sufficient groups; None => insufficient data.
    pub demographic_parity_difference: Option<f64>,
    /// max(TPR gap, FPR gap) over sufficient groups with the rate; None => insufficient data.
    pub equalized_odds_difference: Option<f64>,
    pub status: BiasStatus,
    pub reason: String,
}

/// Fairlearn's demographic parity and equalized odds differences over `groups`. Groups below
/// [`MIN_GROUP`] are listed but excluded from max/min; a TPR with no positives or FPR with no
/// negatives is None and excluded; each gap needs two groups with the rate, and the equalized
/// odds difference is the larger of the gaps that exist. No difference at all =>
/// InsufficientData. Alert when either difference is ≥ `threshold`.
pub fn group_report(
    attribute: &str,
    groups: &BTreeMap<String, GroupCounts>,
    threshold: f64,
) -> BiasReport {
    let rates: Vec<GroupRates> = groups
        .iter()
        .map(|(group, counts)| GroupRates {
            group: group.clone(),
            n: counts.n,
            selection_rate: counts.selection_rate(),
            tpr: counts.tpr(),
            fpr: counts.fpr(),
            insufficient_data: counts.n < MIN_GROUP,
        })
        .collect();
    let sufficient = || rates.iter().filter(|rates| !rates.insufficient_data);
    let demographic_parity_difference = spread(sufficient().filter_map(|r| r.selection_rate));
    let tpr_gap = spread(sufficient().filter_map(|r| r.tpr));
    let fpr_gap = spread(sufficient().filter_map(|r| r.fpr));
    let equalized_odds_difference = match (tpr_gap, fpr_gap) {
        (Some(tpr), Some(fpr)) => Some(tpr.max(fpr)),
        (gap, None) | (None, gap) => gap,
    };
    let (status, reason) = verdict(
        sufficient().count(),
        demographic_parity_difference,
        equalized_odds_difference,
        threshold,
    );
    BiasReport {
        attribute: attribute.to_owned(),
        groups: rates,
        demographic_parity_difference,
        equalized_odds_difference,
        status,
        reason,
    }
}

/// max − min of the rates, None with fewer than two.
fn spread(rates: impl Iterator<Item = f64>) -> Option<f64> {
    let (count, min, max) = rates.fold((0usize, f64::INFINITY, f64::NEG_INFINITY), |acc, r| {
        (acc.0 + 1, acc.1.min(r), acc.2.max(r))
    });
    (count >= 2).then_some(max - min)
}

fn verdict(
    sufficient_groups: usize,
    demographic_parity: Option<f64>,
    equalized_odds: Option<f64>,
    threshold: f64,
) -> (BiasStatus, String) {
    if demographic_parity.is_none() && equalized_odds.is_none() {
        return (
            BiasStatus::InsufficientData,
            format!(
                "{sufficient_groups} group(s) with at least {MIN_GROUP} rows; at least 2 needed"
            ),
        );
    }
    let mut breaches = Vec::new();
    if let Some(gap) = demographic_parity.filter(|gap| *gap >= threshold) {
        breaches.push(format!("demographic parity difference {gap:.4}"));
    }
    if let Some(gap) = equalized_odds.filter(|gap| *gap >= threshold) {
        breaches.push(format!("equalized odds difference {gap:.4}"));
    }
    if breaches.is_empty() {
        (
            BiasStatus::Normal,
            format!("group differences below threshold {threshold}"),
        )
    } else {
        (
            BiasStatus::Alert,
            format!("{} ≥ threshold {threshold}", breaches.join(" and ")),
        )
    }
}

/// The seed's precomputed form of a bias metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrecomputedBias {
    pub metric_name: String,
    pub stratum_type: String,
    pub stratum_value: String,
    pub baseline_value: f64,
    pub current_value: f64,
}

/// One precomputed metric judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrecomputedJudgement {
    pub metric: PrecomputedBias,
    /// current_value − baseline_value (signed: the direction matters to a reader).
    pub gap: f64,
    /// |gap| > threshold.
    pub flagged: bool,
}

/// Each metric with its gap, flagged when it moved by more than `threshold` either way.
pub fn judge_precomputed(items: &[PrecomputedBias], threshold: f64) -> Vec<PrecomputedJudgement> {
    items
        .iter()
        .map(|metric| {
            let gap = metric.current_value - metric.baseline_value;
            PrecomputedJudgement {
                metric: metric.clone(),
                gap,
                flagged: gap.abs() > threshold,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Folds `n` rows of (prediction, label).
    fn rows(counts: &mut GroupCounts, n: u64, prediction: bool, label: Option<bool>) {
        for _ in 0..n {
            counts.add(prediction, label);
        }
    }

    /// A hand-checked table:
    ///
    /// | group | n  | selected | positives (TP) | negatives (FP) | sel. rate | TPR  | FPR  |
    /// |-------|----|----------|----------------|----------------|-----------|------|------|
    /// | a     | 40 | 20       | 20 (15)        | 20 (5)         | 0.5       | 0.75 | 0.25 |
    /// | b     | 50 | 10       | 25 (10)        | 25 (0)         | 0.2       | 0.4  | 0    |
    /// | c     | 10 | 10       | 10 (10)        | 0              | 1.0       | 1.0  | —    |
    ///
    /// c is below 30 rows: listed, left out. DPD = 0.5 − 0.2 = 0.3; TPR gap 0.35, FPR gap 0.25,
    /// so EOD = 0.35.
    fn table() -> BTreeMap<String, GroupCounts> {
        let mut a = GroupCounts::default();
        rows(&mut a, 15, true, Some(true));
        rows(&mut a, 5, false, Some(true));
        rows(&mut a, 5, true, Some(false));
        rows(&mut a, 15, false, Some(false));
        let mut b = GroupCounts::default();
        rows(&mut b, 10, true, Some(true));
        rows(&mut b, 15, false, Some(true));
        rows(&mut b, 25, false, Some(false));
        let mut c = GroupCounts::default();
        rows(&mut c, 10, true, Some(true));
        [("a", a), ("b", b), ("c", c)]
            .into_iter()
            .map(|(group, counts)| (group.to_owned(), counts))
            .collect()
    }

    fn close(actual: Option<f64>, expected: f64) -> bool {
        actual.is_some_and(|actual| (actual - expected).abs() < 1e-12)
    }

    #[test]
    fn hand_checked_table() {
        let report = group_report("sex", &table(), 0.1);
        assert_eq!(report.attribute, "sex");
        let a = &report.groups[0];
        assert_eq!(
            (a.group.as_str(), a.n, a.insufficient_data),
            ("a", 40, false)
        );
        assert!(close(a.selection_rate, 0.5) && close(a.tpr, 0.75) && close(a.fpr, 0.25));
        let c = &report.groups[2];
        assert!(c.insufficient_data && c.fpr.is_none() && close(c.selection_rate, 1.0));
        assert!(close(report.demographic_parity_difference, 0.3));
        assert!(close(report.equalized_odds_difference, 0.35));
        assert_eq!(report.status, BiasStatus::Alert);
        assert!(
            report
                .reason
                .contains("demographic parity difference 0.3000")
        );
    }

    #[test]
    fn alert_at_the_threshold_normal_below() {
        assert_eq!(group_report("g", &table(), 0.35).status, BiasStatus::Alert);
        assert_eq!(group_report("g", &table(), 0.36).status, BiasStatus::Normal);
    }

    #[test]
    fn a_rate_without_its_denominator_is_left_out() {
        let mut groups = table();
        groups.remove("c");
        let mut d = GroupCounts::default();
        rows(&mut d, 30, true, Some(true)); // no negatives: FPR is None
        groups.insert("d".to_owned(), d);
        let report = group_report("g", &groups, 0.1);
        assert_eq!(report.groups[2].fpr, None);
        // TPR over a, b, d: 1.0 − 0.4 = 0.6; FPR over a, b only: 0.25.
        assert!(close(report.equalized_odds_difference, 0.6));
        assert!(close(report.demographic_parity_difference, 0.8));
    }

    #[test]
    fn fewer_than_two_sufficient_groups_is_insufficient() {
        let mut groups = table();
        groups.remove("b");
        let report = group_report("g", &groups, 0.1);
        assert_eq!(report.status, BiasStatus::InsufficientData);
        assert_eq!(report.demographic_parity_difference, None);
        assert_eq!(report.equalized_odds_difference, None);
        assert_eq!(report.groups.len(), 2, "every group is still listed");
    }

    #[test]
    fn unlabelled_rows_count_for_selection_only() {
        let mut x = GroupCounts::default();
        rows(&mut x, 30, true, None);
        let mut y = GroupCounts::default();
        rows(&mut y, 40, false, None);
        let groups = BTreeMap::from([("x".to_owned(), x), ("y".to_owned(), y)]);
        let report = group_report("g", &groups, 0.1);
        assert!(close(report.demographic_parity_difference, 1.0));
        assert_eq!(report.equalized_odds_difference, None);
        assert_eq!(report.status, BiasStatus::Alert);
    }

    #[test]
    fn merged_folds_equal_one_fold() {
        let mut whole = GroupCounts::default();
        let mut first = GroupCounts::default();
        let mut second = GroupCounts::default();
        for (i, (prediction, label)) in [(true, Some(true)), (false, Some(false)), (true, None)]
            .into_iter()
            .cycle()
            .take(31)
            .enumerate()
        {
            whole.add(prediction, label);
            if i % 2 == 0 { &mut first } else { &mut second }.add(prediction, label);
        }
        second.merge(&first);
        assert_eq!(second, whole);
    }

    #[test]
    fn precomputed_metrics_flag_moves_past_the_threshold_either_way() {
        let metric = |baseline_value, current_value| PrecomputedBias {
            metric_name: "selection_rate".to_owned(),
            stratum_type: "age".to_owned(),
            stratum_value: "65+".to_owned(),
            baseline_value,
            current_value,
        };
        let judged = judge_precomputed(
            &[metric(0.5, 0.3), metric(0.5, 0.55), metric(0.2, 0.3)],
            0.1,
        );
        assert!((judged[0].gap + 0.2).abs() < 1e-12 && judged[0].flagged);
        assert!(!judged[1].flagged);
        // 0.3 − 0.2 is 0.09999999999999998 in binary: not past 0.1.
        assert!(!judged[2].flagged);
    }
}
