//! Structural LES 1.0 estimate of an LSS spec (`loopc score SPEC`).

use crate::categories;
use crate::improve;
use crate::reference::{clamp01, py_float, round_to, truthy, Cx, Py};
use crate::{CATEGORIES, WEIGHTS};
use serde::Serialize;
use serde_json::{Map, Value};

/// Options of [`score_spec`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpecScoreOptions {
    /// Reproduce the reference `loopctl score` (le-loopctl 0.5.0) including
    /// its defects: a top-level `les_scores` mapping overrides the inferred
    /// categories, strings are counted by character, booleans are numbers,
    /// list-form success conditions add up, and documents the reference
    /// cannot score are reported in [`SpecScore::reference_error`].
    /// `false` (the default) scores the structure only.
    pub reference_parity: bool,
}

/// One LES category of a spec score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryScore {
    /// Category name (`effectiveness`, `speed`, ...), in LES order.
    pub name: String,
    /// Normalized score in [0, 1], rounded to 2 decimals.
    pub score: f64,
    /// LES 1.0 weight of the category.
    pub weight: f64,
    /// What in the spec raised or lowered the score, one line per step.
    pub explanation: Vec<String>,
}

/// The single spec change that would raise the LES most.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Improvement {
    /// The category the change raises most (weighted).
    pub category: String,
    /// What to change, in words.
    pub change: String,
    /// LES gain in display points (0-100 scale), one decimal.
    pub gain: f64,
}

/// The structural LES 1.0 estimate of one spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpecScore {
    /// LES on the 0-100 display scale, one decimal (`round(x * 100, 1)`).
    pub les: f64,
    /// LES on the canonical [0, 1] scale (`les / 100`).
    pub les_normalized: f64,
    /// The eight categories in LES order.
    pub categories: Vec<CategoryScore>,
    /// The change that would raise the LES most, if any raises it.
    pub best_improvement: Option<Improvement>,
    /// Notes on ignored keys, ill-typed values, unbounded loops and where
    /// the default differs from the reference.
    pub notes: Vec<String>,
    /// Whether the score was computed with [`SpecScoreOptions::reference_parity`].
    pub reference_parity: bool,
    /// Parity mode only: the exception the reference raises on this
    /// document (it prints `Score failed` and exits 1). The numbers are then
    /// the default-mode ones, with `les_scores` honoured where well-formed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_error: Option<String>,
}

/// Raw outcome of one scoring pass.
pub(crate) struct Evaluation {
    /// Unrounded weighted sum in [0, 1].
    pub composite: f64,
    /// Unrounded category scores in LES order.
    pub scores: [f64; 8],
    pub why: Vec<Vec<String>>,
    pub notes: Vec<String>,
    pub reference_error: Option<String>,
    /// Categories taken from `les_scores`.
    pub explicit: usize,
}

/// Scores one LSS document (already parsed; YAML 1.2 semantics) with the
/// structural LES 1.0 heuristics of the reference `loopctl score`.
///
/// Never fails: a document that is not a mapping is scored as an empty one,
/// and ill-typed values are ignored with a note (or, in parity mode,
/// reported in [`SpecScore::reference_error`]).
pub fn score_spec(doc: &Value, opts: &SpecScoreOptions) -> SpecScore {
    let parity = opts.reference_parity;
    let ev = evaluate(doc, parity);
    let mut notes = ev.notes.clone();
    // Say where the two modes disagree, and by how much.
    let other = evaluate(doc, !parity);
    let (les, other_les) = (display(ev.composite), display(other.composite));
    if parity {
        if ev.reference_error.is_none() && other_les != les {
            notes.push(format!(
                "reference parity: the default (corrected) LES of this spec is {other_les:.1}"
            ));
        }
    } else {
        match (&other.reference_error, other_les != les) {
            (Some(err), _) => notes.push(format!("the reference loopctl score fails on this document ({err})")),
            (None, true) => notes.push(format!(
                "the reference loopctl score gives {other_les:.1} for this spec (see --reference-parity)"
            )),
            (None, false) => {}
        }
    }
    let categories = CATEGORIES
        .iter()
        .zip(WEIGHTS)
        .enumerate()
        .map(|(i, (name, weight))| CategoryScore {
            name: (*name).to_string(),
            score: round_to(ev.scores[i], 2),
            weight,
            explanation: ev.why[i].clone(),
        })
        .collect();
    SpecScore {
        les,
        les_normalized: round_to(les / 100.0, 3),
        categories,
        best_improvement: improve::best(doc, parity, &ev),
        notes,
        reference_parity: parity,
        reference_error: ev.reference_error,
    }
}

/// `round(composite * 100, 1)`.
pub(crate) fn display(composite: f64) -> f64 {
    round_to(composite * 100.0, 1)
}

/// One scoring pass (no improvement search).
pub(crate) fn evaluate(doc: &Value, parity: bool) -> Evaluation {
    let empty = Map::new();
    let (map, not_mapping) = match doc {
        Value::Object(m) => (m, false),
        _ => (&empty, true),
    };
    if parity {
        match pass(map, true) {
            Ok(mut ev) => {
                if not_mapping {
                    ev.reference_error = Some(format!(
                        "ValueError: Expected YAML mapping (document is a {})",
                        crate::reference::type_name(doc)
                    ));
                }
                ev
            }
            Err(err) => {
                // The reference raises: score leniently, honouring les_scores.
                let mut ev = pass(map, false).expect("the default mode never raises");
                lenient_overrides(map, &mut ev);
                ev.reference_error = Some(err);
                ev
            }
        }
    } else {
        let mut ev = pass(map, false).expect("the default mode never raises");
        if not_mapping {
            ev.notes.insert(
                0,
                format!(
                    "the document is a {}, not a mapping: scored as empty",
                    crate::reference::type_name(doc)
                ),
            );
        }
        if map.get("les_scores").is_some_and(|v| !v.is_null()) {
            ev.notes
                .insert(0, "les_scores key ignored; pass --reference-parity to honour it".to_string());
        }
        ev
    }
}

/// Scores every category once, in LES order (the reference's order).
fn pass(doc: &Map<String, Value>, parity: bool) -> Py<Evaluation> {
    let mut cx = Cx::new(parity);
    let mut scores = [0.0; 8];
    let mut why = Vec::with_capacity(8);
    let mut explicit_count = 0;
    for (i, name) in CATEGORIES.iter().enumerate() {
        let explicit = if parity { explicit(doc, name)? } else { None };
        if let Some(x) = explicit {
            explicit_count += 1;
            scores[i] = x;
            why.push(vec![format!(
                "{x:.2}: taken from les_scores.{name} (self-reported; honoured only with reference parity)"
            )]);
        } else {
            let inferred = categories::infer(name, doc, &mut cx)?;
            scores[i] = inferred.score;
            why.push(inferred.why);
        }
    }
    Ok(Evaluation {
        composite: composite(&scores),
        scores,
        why,
        notes: cx.notes,
        reference_error: None,
        explicit: explicit_count,
    })
}

/// The weighted sum, added in LES order as the reference does.
pub(crate) fn composite(scores: &[f64; 8]) -> f64 {
    scores.iter().zip(WEIGHTS).fold(0.0, |acc, (s, w)| acc + w * s)
}

/// `les_scores[category]` with the reference's semantics (`category in
/// explicit and explicit[category] is not None`, then `clamp(float(...))`).
fn explicit(doc: &Map<String, Value>, category: &str) -> Py<Option<f64>> {
    let es = doc.get("les_scores");
    if !truthy(es) {
        return Ok(None);
    }
    match es.expect("truthy") {
        Value::Object(m) => match m.get(category) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Ok(Some(clamp01(py_float(v).map_err(|e| format!("{e} (les_scores.{category})"))?))),
        },
        Value::Array(items) => {
            if items.iter().any(|v| v.as_str() == Some(category)) {
                Err("TypeError: list indices must be integers or slices, not str (les_scores)".to_string())
            } else {
                Ok(None)
            }
        }
        Value::String(s) => {
            if s.contains(category) {
                Err("TypeError: string indices must be integers, not 'str' (les_scores)".to_string())
            } else {
                Ok(None)
            }
        }
        other => Err(format!(
            "TypeError: argument of type '{}' is not iterable (les_scores)",
            crate::reference::type_name(other)
        )),
    }
}

/// After a reference failure in parity mode: honour the well-formed
/// numeric entries of a `les_scores` mapping.
fn lenient_overrides(doc: &Map<String, Value>, ev: &mut Evaluation) {
    let Some(Value::Object(m)) = doc.get("les_scores") else {
        return;
    };
    for (i, name) in CATEGORIES.iter().enumerate() {
        if let Some(x) = m.get(*name).and_then(crate::reference::number_like) {
            let x = clamp01(x);
            ev.scores[i] = x;
            ev.explicit += 1;
            ev.why[i] = vec![format!("{x:.2}: taken from les_scores.{name} (self-reported)")];
        }
    }
    ev.composite = composite(&ev.scores);
}
