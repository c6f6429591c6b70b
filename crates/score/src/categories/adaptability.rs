//! Adaptability (w = 0.10): input fields, taxonomy level and an adaptive
//! optimizer.

use super::{input_count, num, plural, robustness::level_hint, Inferred, Tally};
use crate::reference::{get_str, Cx, Py};
use serde_json::{Map, Value};

pub(crate) fn infer(doc: &Map<String, Value>, cx: &mut Cx) -> Py<Inferred> {
    let mut t = Tally::new(0.4, "every loop");
    let inputs = input_count(doc, cx, false)?;
    if inputs > 0 {
        t.add(
            f64::min(0.25, 0.06 * inputs as f64),
            format!("{} (+0.06 each, capped at +0.25)", plural(inputs, "input field")),
        );
    } else {
        t.say("no input fields (+0.06 each)");
    }
    let level = cx.level(doc)?;
    t.add(
        f64::min(0.2, 0.04 * level),
        format!("taxonomy_level {} (+0.04 per level, capped at +0.20)", num(level)),
    );
    if doc.get("taxonomy_level").is_none() {
        t.say(level_hint(doc, level, "+0.04 per level"));
    }
    let opt = cx.mapping(doc.get("optimization_strategy"), "optimization_strategy")?;
    let ty = opt.and_then(|o| get_str(o, "type"));
    const ADAPTIVE: [&str; 5] = ["reflection", "evolutionary", "beam_search", "prompt_refinement", "parameter_search"];
    match ty {
        Some(ty) if ADAPTIVE.contains(&ty) => t.add(0.1, format!("adaptive optimization_strategy.type {ty}")),
        _ => t.say("optimization_strategy.type is not adaptive (reflection, evolutionary, beam_search, prompt_refinement, parameter_search: +0.10)"),
    }
    Ok(t.done())
}
