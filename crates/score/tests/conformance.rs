//! The spec scorer reproduces the reference numbers of
//! ../shared/conformance/public/PEER_SCORES.tsv on the conformance specs.

mod common;

use common::{fixture, fixtures, shared, tsv};
use loopc_score::{score_spec, SpecScoreOptions};
use std::collections::BTreeMap;

const PARITY: SpecScoreOptions = SpecScoreOptions { reference_parity: true };
const DEFAULT: SpecScoreOptions = SpecScoreOptions { reference_parity: false };

#[test]
fn fixtures_match_the_shared_manifest() {
    // A fixture is stale when its YAML source changed in shared/.
    let manifest: BTreeMap<String, String> = tsv(&shared().join("conformance/public/MANIFEST.tsv"))
        .into_iter()
        .map(|r| (r[0].clone(), r[5].clone()))
        .collect();
    let index = tsv(&fixtures().join("index.tsv"));
    assert_eq!(
        index.len(),
        manifest.len(),
        "fixture count vs MANIFEST.tsv: rerun bench/score/make_fixtures.py"
    );
    for row in index {
        assert_eq!(
            manifest.get(&row[0]),
            Some(&row[1]),
            "{}: fixture out of date, rerun bench/score/make_fixtures.py",
            row[0]
        );
    }
}

#[test]
fn parity_scores_equal_peer_scores() {
    let peer = tsv(&shared().join("conformance/public/PEER_SCORES.tsv"));
    assert!(peer.len() >= 28, "PEER_SCORES.tsv has {} rows", peer.len());
    for row in &peer {
        let expected: f64 = row[1].parse().expect("numeric les");
        let doc = fixture(&row[0]);
        let s = score_spec(&doc, &PARITY);
        assert!(s.reference_error.is_none(), "{}: {:?}", row[0], s.reference_error);
        assert!((s.les - expected).abs() < 0.05, "{}: parity {} vs peer {expected}", row[0], s.les);
    }
}

#[test]
fn default_scores_equal_peer_scores_on_well_formed_specs() {
    // None of the conformance specs hits a corrected defect, so the default
    // mode gives the teams' CI number too.
    for row in tsv(&shared().join("conformance/public/PEER_SCORES.tsv")) {
        let expected: f64 = row[1].parse().expect("numeric les");
        let s = score_spec(&fixture(&row[0]), &DEFAULT);
        assert!((s.les - expected).abs() < 0.05, "{}: default {} vs peer {expected}", row[0], s.les);
        assert!(
            !s.notes.iter().any(|n| n.contains("reference loopctl score")),
            "{}: unexpected divergence note {:?}",
            row[0],
            s.notes
        );
    }
}

#[test]
fn coding_agent_categories_match_the_reference_breakdown() {
    // loopctl score --json loop-library/coding-agent.yaml:
    // effectiveness 0.78, speed 0.7, cost 0.75, robustness 0.77,
    // scalability 0.65, safety 0.67, adaptability 0.6, autonomy 0.59 -> 70.4
    let s = score_spec(&fixture("loop-library/coding-agent.yaml"), &DEFAULT);
    let got: Vec<f64> = s.categories.iter().map(|c| c.score).collect();
    assert_eq!(got, vec![0.78, 0.7, 0.75, 0.77, 0.65, 0.67, 0.6, 0.59]);
    assert_eq!(s.les, 70.4);
    assert_eq!(s.les_normalized, 0.704);
    let weights: Vec<f64> = s.categories.iter().map(|c| c.weight).collect();
    assert_eq!(weights, vec![0.20, 0.15, 0.12, 0.13, 0.10, 0.12, 0.10, 0.08]);
}
