//! Colours of the diagram. GitHub draws Mermaid with its `default` theme in
//! light mode and its `dark` theme in dark mode, so whatever the diagram
//! colours itself it must colour completely: every node class sets its fill,
//! its border and its text colour, and reads on a white page and on
//! GitHub's dark page (#0d1117) alike. Edges, edge labels and subgraph
//! titles are left to the theme, which matches them to the page; subgraphs
//! are only outlined, so the theme's edges inside them stay visible.

/// A node class: light fill, dark text, and a mid-tone border that stands
/// out from white and from #0d1117.
pub(super) struct Class {
    pub name: &'static str,
    pub fill: &'static str,
    pub stroke: &'static str,
    pub color: &'static str,
}

/// Text on every fill (GitHub's light-mode foreground).
const TEXT: &str = "#1f2328";

/// The node classes [`super::node_line`] uses, from GitHub's Primer scales.
pub(super) const CLASSES: [Class; 11] = [
    class("input", "#ddf4ff", "#218bff"),
    class("memory", "#fbefff", "#a475f9"),
    class("worker", "#fff8c5", "#bf8700"),
    class("evaluator", "#dafbe1", "#2da44e"),
    class("optimizer", "#f6f8fa", "#8c959f"),
    class("decide", "#ffffff", "#6e7781"),
    class("success", "#aceebb", "#1a7f37"),
    class("halt", "#ffebe9", "#cf222e"),
    class("escalate", "#fff1e5", "#e16f24"),
    class("child", "#eaeef2", "#6e7781"),
    class("start", "#f6f8fa", "#6e7781"),
];

const fn class(name: &'static str, fill: &'static str, stroke: &'static str) -> Class {
    Class {
        name,
        fill,
        stroke,
        color: TEXT,
    }
}

/// A subgraph's outline (`style ID …`): no fill of its own, so edges keep
/// the theme's contrast with the page inside it too.
pub(super) const SUBGRAPH: &str = "fill:none,stroke:#8c959f,stroke-dasharray:4 3";

/// The `classDef` lines.
pub(super) fn class_defs() -> String {
    CLASSES
        .iter()
        .map(|c| format!("  classDef {} fill:{},stroke:{},color:{}\n", c.name, c.fill, c.stroke, c.color))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{class_defs, CLASSES};

    /// WCAG 2 relative luminance of `#rrggbb`.
    fn luminance(hex: &str) -> f64 {
        let channel = |i: usize| {
            let c = f64::from(u8::from_str_radix(&hex[1 + 2 * i..3 + 2 * i], 16).unwrap()) / 255.0;
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2)
    }

    fn contrast(a: &str, b: &str) -> f64 {
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    #[test]
    fn luminance_matches_wcag() {
        assert!((contrast("#000000", "#ffffff") - 21.0).abs() < 1e-9);
        assert!((contrast("#777777", "#ffffff") - 4.48).abs() < 0.01);
    }

    /// Text on its fill is WCAG AA (4.5:1); the border is a non-text
    /// contrast (3:1) against both pages, and so is the fill against the
    /// dark page, so each node stands out in light and in dark mode.
    #[test]
    fn every_class_reads_on_a_light_and_a_dark_page() {
        for c in &CLASSES {
            for hex in [c.fill, c.stroke, c.color] {
                assert!(hex.len() == 7 && hex.starts_with('#'), "{}: {hex} is not #rrggbb", c.name);
            }
            assert!(
                contrast(c.color, c.fill) >= 4.5,
                "{}: text on fill {:.2}",
                c.name,
                contrast(c.color, c.fill)
            );
            for page in ["#ffffff", "#0d1117"] {
                assert!(
                    contrast(c.stroke, page) >= 3.0,
                    "{}: border on {page} {:.2}",
                    c.name,
                    contrast(c.stroke, page)
                );
            }
            assert!(contrast(c.fill, "#0d1117") >= 3.0, "{}: fill on the dark page", c.name);
        }
    }

    #[test]
    fn every_class_def_sets_fill_stroke_and_color() {
        let defs = class_defs();
        assert_eq!(defs.lines().count(), CLASSES.len());
        for line in defs.lines() {
            let style = line.trim().splitn(3, ' ').nth(2).unwrap();
            let keys: Vec<&str> = style.split(',').map(|p| p.split(':').next().unwrap()).collect();
            assert_eq!(keys, ["fill", "stroke", "color"], "{line}");
        }
    }
}
