//! Output formats behind one trait. Every command that reports something
//! (`check`, `score`, `run` and its continuations, `runs`, `status`) builds a
//! value implementing [`Report`] and prints it with [`print`]; `--format`
//! offers exactly the formats that report declares, so `loopc runs --format
//! sarif` is a usage error listing the formats `runs` has, not a silent
//! fallback.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::ValueEnum;

/// Every output format loopc writes. A report offers a subset ([`Report::FORMATS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text for a person.
    Human,
    /// One JSON document (stable field names, deterministic order).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// GitHub Actions workflow commands (annotations on the diff).
    Github,
    /// GitLab Code Quality report (merge-request widget).
    Gitlab,
    /// A Markdown page (`status`: where the run stands and what to do next).
    Markdown,
}

/// The formats of a report that has no format of its own.
pub const HUMAN_AND_JSON: &[Format] = &[Format::Human, Format::Json];

/// What a command prints.
pub trait Report {
    /// The formats this report can be written in.
    const FORMATS: &'static [Format];

    /// The text for a person (`--format human`).
    fn human(&self) -> String;

    /// The JSON document (`--format json`), newline-terminated.
    fn json(&self) -> String;

    /// A format beyond human and JSON, for reports that list one in
    /// [`Self::FORMATS`]; `None` for a format the report does not have.
    fn other(&self, _format: Format) -> Option<String> {
        None
    }

    /// The report in `format`.
    fn render(&self, format: Format) -> String {
        match format {
            Format::Human => self.human(),
            Format::Json => self.json(),
            other => self.other(other).unwrap_or_else(|| {
                // `offered` lets clap accept only FORMATS, so this is a
                // report that lists a format it does not render.
                debug_assert!(false, "{other:?} is listed in FORMATS but not rendered");
                self.json()
            }),
        }
    }
}

/// Print a report in `format` to stdout.
pub fn print(report: &impl Report, format: Format) {
    super::emit(&report.render(format));
}

/// Pretty JSON of a serializable report, newline-terminated.
pub fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("reports serialize") + "\n"
}

/// The `--format` value parser for a report: only `formats` are accepted,
/// and `--help` lists them with their descriptions.
pub fn offered(formats: &'static [Format]) -> impl TypedValueParser<Value = Format> {
    PossibleValuesParser::new(formats.iter().filter_map(ValueEnum::to_possible_value))
        .map(|name| Format::from_str(&name, false).expect("clap accepted one of the listed formats"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_name_parses_back() {
        for f in Format::value_variants() {
            let name = f.to_possible_value().unwrap().get_name().to_owned();
            assert_eq!(Format::from_str(&name, false).unwrap(), *f);
        }
    }
}
