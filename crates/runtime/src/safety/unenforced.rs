//! A type the interpreter cannot enforce (`injection_detect`, `pii_detect`,
//! `egress_monitor`, `tenant_isolation`), accepted with
//! `--allow-unenforced`: it does nothing but report itself once per run,
//! as a warning, the first time it applies.

use loopc_plan::SafetyAction;
use serde_json::Value;

use super::constraint::{Constraint, Context, Found};

pub(crate) struct Unenforced;

impl Unenforced {
    fn report_once(&self, cx: &Context<'_>) -> Option<Found> {
        let id = &cx.check.id;
        let first = cx.remember(|memo| {
            let first = !memo.reported.iter().any(|r| r == id);
            if first {
                memo.reported.push(id.clone());
            }
            (first, first)
        });
        first.then(|| Found {
            action: Some(SafetyAction::Warn),
            ..Found::new(format!(
                "safety constraint `{id}` of type `{}` is not enforced by the interpreter (it needs an external enforcer)",
                cx.check.kind()
            ))
        })
    }
}

impl Constraint for Unenforced {
    fn invocation(&self, cx: &Context<'_>) -> Option<Found> {
        self.report_once(cx)
    }

    fn output(&self, cx: &Context<'_>, _value: &Value) -> Option<Found> {
        self.report_once(cx)
    }
}
