//! `[[hook]]`: which webhook events enqueue which runs, and with what items.

use loopc_runtime::bindings::Bindings;
use loopc_runtime::store::QueueRequest;
use serde_json::Value;

use crate::resolve;

/// What a delivery asks for: `(hook index, request)` per matching hook.
pub fn requests(bindings: &Bindings, event: &str, payload: &Value) -> Result<Vec<(usize, QueueRequest)>, String> {
    let action = payload.get("action").and_then(Value::as_str);
    let mut out = Vec::new();
    for (n, hook) in bindings.hook.iter().enumerate() {
        if hook.event != event {
            continue;
        }
        if !hook.actions.is_empty() && !action.is_some_and(|a| hook.actions.iter().any(|h| h == a)) {
            continue;
        }
        let found = if hook.items.is_empty() {
            Some(payload)
        } else {
            hook.items.split('.').try_fold(payload, |v, key| v.get(key))
        };
        let items = match found {
            Some(Value::Array(items)) => items.clone(),
            Some(item @ Value::Object(_)) => vec![item.clone()],
            Some(other) => {
                return Err(format!(
                    "[[hook]] {} (`{event}`): `{}` in the payload is {}, not an object or an array of them",
                    n + 1,
                    hook.items,
                    kind(other)
                ))
            }
            None => return Err(format!("[[hook]] {} (`{event}`): the payload has no `{}`", n + 1, hook.items)),
        };
        out.push((
            n,
            QueueRequest {
                spec: resolve(bindings, &hook.spec).display().to_string(),
                bindings: bindings.source.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                inputs: hook.inputs.clone().into_iter().collect(),
                items: Some(items),
                items_file: None,
                items_from: None,
                cwd: bindings.base_dir.display().to_string(),
                decision: None,
            },
        ));
    }
    Ok(out)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_opened_issue_becomes_one_item_and_other_actions_nothing() {
        let b = Bindings::parse(
            "[[hook]]\nevent = \"issues\"\nactions = [\"opened\", \"labeled\"]\nspec = \"triage.yaml\"\nitems = \"issue\"\n\n\
             [[hook]]\nevent = \"pull_request\"\nspec = \"review.yaml\"\nitems = \"pull_request\"\n",
            std::path::Path::new("/p"),
        )
        .unwrap();
        let opened = json!({"action": "opened", "issue": {"number": 42, "title": "add subtracts"}});
        let got = requests(&b, "issues", &opened).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, 0);
        assert_eq!(got[0].1.spec, "/p/triage.yaml");
        assert_eq!(got[0].1.items, Some(vec![json!({"number": 42, "title": "add subtracts"})]));
        let closed = json!({"action": "closed", "issue": {"number": 42}});
        assert!(requests(&b, "issues", &closed).unwrap().is_empty());
        assert!(requests(&b, "push", &opened).unwrap().is_empty());
        let e = requests(&b, "pull_request", &json!({"action": "opened"})).unwrap_err();
        assert!(e.contains("no `pull_request`"), "{e}");
    }
}
