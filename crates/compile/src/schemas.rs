//! `schema_enforce` constraints name their JSON Schema with `schema_ref`.
//! The schema is read at compile time and embedded in the plan (its
//! `schema`, with `source` naming it in messages), so that a run reads no
//! file a spec points at.
//!
//! A `schema_ref` is a path relative to the spec, optionally with a
//! `#/json/pointer` fragment; like composition children it is looked up
//! next to the spec, then in each enclosing directory up to the repository
//! root. It must stay inside the spec's repository (the nearest directory
//! with `.git` or `loopc.toml`; without one, the working directory when
//! the spec is below it, else the spec's own directory), be a regular file
//! and hold at most [`MAX_SCHEMA_BYTES`] of JSON.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The largest schema file `schema_ref` may name.
pub const MAX_SCHEMA_BYTES: u64 = 1024 * 1024;

/// The directory a spec's references must stay inside.
fn containment_root(spec_path: &Path) -> Option<PathBuf> {
    let spec = std::fs::canonicalize(spec_path).ok()?;
    let dir = spec.parent()?.to_path_buf();
    if let Some(repo) = dir.ancestors().find(|d| d.join(".git").exists() || d.join("loopc.toml").is_file()) {
        return Some(repo.to_path_buf());
    }
    match std::env::current_dir().ok().and_then(|c| std::fs::canonicalize(c).ok()) {
        Some(cwd) if dir.starts_with(&cwd) => Some(cwd),
        _ => Some(dir),
    }
}

/// The schema `reference` (relative to the spec) names; the reason it cannot be used otherwise.
pub fn load(spec_path: &Path, reference: &str) -> Result<Value, String> {
    let reference = reference.strip_prefix("file://").unwrap_or(reference);
    let (file, fragment) = match reference.split_once('#') {
        Some((f, frag)) => (f, Some(frag)),
        None => (reference, None),
    };
    if file.is_empty() || Path::new(file).is_absolute() {
        return Err("must be a path relative to the spec (inside its repository)".into());
    }
    let root = containment_root(spec_path).ok_or("cannot be resolved: the spec's directory is not readable")?;
    let found = loopc_check::candidates(spec_path, file)
        .into_iter()
        .find(|c| c.exists())
        .ok_or_else(|| {
            format!(
                "is not found next to the spec or in an enclosing directory up to {}",
                root.display()
            )
        })?;
    let path = std::fs::canonicalize(&found).map_err(|e| format!("cannot be read: {e}"))?;
    if !path.starts_with(&root) {
        return Err(format!("leads outside the spec's repository {}", root.display()));
    }
    let meta = std::fs::metadata(&path).map_err(|e| format!("cannot be read: {e}"))?;
    if !meta.is_file() {
        return Err("is not a regular file".into());
    }
    if meta.len() > MAX_SCHEMA_BYTES {
        return Err(format!(
            "is {} bytes, more than the {MAX_SCHEMA_BYTES} a schema may have",
            meta.len()
        ));
    }
    let mut text = String::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_SCHEMA_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| format!("cannot be read: {e}"))?;
    if text.len() as u64 > MAX_SCHEMA_BYTES {
        return Err(format!("is more than the {MAX_SCHEMA_BYTES} bytes a schema may have"));
    }
    let doc: Value = serde_json::from_str(&text).map_err(|e| format!("is not JSON: {e}"))?;
    if !doc.is_object() && !doc.is_boolean() {
        return Err("is not a JSON Schema (an object or a boolean)".into());
    }
    match fragment {
        None | Some("") | Some("/") => Ok(doc),
        Some(pointer) => {
            if doc.pointer(pointer).is_none() {
                return Err(format!("has nothing at `#{pointer}`"));
            }
            // Keep the document's definitions (for its internal `$ref`s) and
            // validate against the fragment.
            let mut wrapper = serde_json::Map::new();
            if let Value::Object(map) = &doc {
                for key in ["$schema", "$id", "$defs", "definitions"] {
                    if let Some(v) = map.get(key) {
                        wrapper.insert(key.to_owned(), v.clone());
                    }
                }
            }
            wrapper.insert("$ref".into(), Value::String(format!("#{pointer}")));
            Ok(Value::Object(wrapper))
        }
    }
}
