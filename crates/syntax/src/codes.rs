use loopc_diagnostics::{RuleMeta, Severity};

macro_rules! syntax_codes {
    ($($konst:ident = $code:literal, $rule:literal, $summary:literal;)*) => {
        $(pub(crate) const $konst: (&str, &str) = ($code, $rule);)*
        /// Every diagnostic the syntax layer can emit.
        pub const SYNTAX_RULES: &[RuleMeta] = &[
            $(RuleMeta { code: $code, rule: $rule, summary: $summary, default_severity: Severity::Error },)*
        ];
    };
}

syntax_codes! {
    YAML_SYNTAX = "L001", "yaml-syntax", "The file is not well-formed YAML or JSON.";
    DUPLICATE_KEY = "L002", "duplicate-key", "A mapping repeats a key; YAML 1.2 forbids it and parsers disagree on which value wins.";
    MULTIPLE_DOCUMENTS = "L003", "multiple-documents", "The file holds more than one YAML document; an LSS file is exactly one.";
    EMPTY_FILE = "L004", "empty-file", "The file has no YAML document at all.";
    ROOT_NOT_MAPPING = "L005", "root-not-mapping", "The document's root is not a mapping of LSS fields.";
    INVALID_UTF8 = "L006", "invalid-utf8", "The file is not valid UTF-8.";
    NUL_BYTE = "L007", "nul-byte", "The file contains a NUL byte, which YAML forbids.";
    TOO_DEEP = "L008", "nesting-too-deep", "Sequences and mappings are nested deeper than the configured limit.";
    ALIAS_LIMIT = "L009", "alias-expansion-limit", "Aliases expand to more nodes than the configured limit (an alias bomb).";
    FILE_TOO_LARGE = "L010", "file-too-large", "The file is larger than the configured limit.";
    UNSUPPORTED_NODE = "L011", "unsupported-node", "A construct with no JSON equivalent: a non-scalar key, an unknown tag, an infinite or NaN number.";
}
