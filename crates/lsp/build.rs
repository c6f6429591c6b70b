//! Picks the schema whose descriptions hover shows. The descriptive schema
//! (`description` and `markdownDescription` on every property) is preferred;
//! a checkout without it builds with the canonical one, whose few
//! descriptions are still right. The composition schema is read too, for
//! the `composition` block the LSS 1.0 schema does not describe.

use std::path::Path;

/// The schema hover prefers: switching to another one is this line.
const PREFERRED: &str = "schemas/lss.schema.json";
/// Used when [`PREFERRED`] is not in the checkout.
const CANONICAL: &str = "schemas/lss-1.0.schema.json";
const COMPOSITION: &str = "schemas/lss-1.1-composition.schema.json";

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The directory, not the file: a file that does not exist yet would
    // rerun this script on every build, a directory is rescanned for changes.
    println!("cargo:rerun-if-changed={}", root.join("schemas").display());
    println!("cargo:rerun-if-changed=build.rs");
    let main = if root.join(PREFERRED).is_file() { PREFERRED } else { CANONICAL };
    println!("cargo:rustc-env=LOOPC_LSP_SCHEMA={}", root.join(main).display());
    println!("cargo:rustc-env=LOOPC_LSP_SCHEMA_NAME={main}");
    println!("cargo:rustc-env=LOOPC_LSP_COMPOSITION_SCHEMA={}", root.join(COMPOSITION).display());
}
