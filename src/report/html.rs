//! HTML building blocks: escaping and tables. Every value that reaches the page goes
//! through [`esc`]: names come from packets, and a hostile packet must not be able to
//! add markup (`<script>`, `"><img src=…>`) to an analyst's page.

use std::fmt::Write as _;

/// Appends `s` escaped for HTML text and for quoted attribute values. Control
/// characters (which HTML cannot show and some parsers mangle) are written as
/// visible `\u{…}` escapes, so nothing is silently lost.
pub fn esc_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// `s` escaped (see [`esc_into`]).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    esc_into(&mut out, s);
    out
}

/// A cell: text (escaped when written) or markup the report built itself.
pub enum Cell {
    Text(String),
    /// A number, right-aligned.
    Num(String),
    /// Trusted markup (an SVG drawn by [`super::svg`], whose values are escaped).
    Html(String),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    pub fn num(n: impl std::fmt::Display) -> Cell {
        Cell::Num(n.to_string())
    }
}

/// Appends a table with the given id (empty: none) and a caption-less header.
pub fn table(out: &mut String, id: &str, head: &[&str], rows: Vec<Vec<Cell>>) {
    out.push_str("<table");
    if !id.is_empty() {
        out.push_str(" id=\"");
        esc_into(out, id);
        out.push('"');
    }
    out.push_str("><thead><tr>");
    for h in head {
        out.push_str("<th>");
        esc_into(out, h);
        out.push_str("</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            match cell {
                Cell::Text(s) => {
                    out.push_str("<td>");
                    esc_into(out, &s);
                }
                Cell::Num(s) => {
                    out.push_str("<td class=\"n\">");
                    esc_into(out, &s);
                }
                Cell::Html(s) => {
                    out.push_str("<td>");
                    out.push_str(&s);
                }
            }
            out.push_str("</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>\n");
}

/// Appends `<p class="note">` with escaped text.
pub fn note(out: &mut String, s: &str) {
    out.push_str("<p class=\"note\">");
    esc_into(out, s);
    out.push_str("</p>\n");
}

/// Opens a section with its id and heading.
pub fn section(out: &mut String, id: &str, title: &str) {
    out.push_str("<section id=\"");
    esc_into(out, id);
    out.push_str("\"><h2>");
    esc_into(out, title);
    out.push_str("</h2>\n");
}

pub fn end_section(out: &mut String) {
    out.push_str("</section>\n");
}

/// Appends an `<h3>`.
pub fn h3(out: &mut String, s: &str) {
    out.push_str("<h3>");
    esc_into(out, s);
    out.push_str("</h3>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_controls() {
        assert_eq!(
            esc("<script>alert(1)</script>\"><img src=x onerror='y'>&\u{1}"),
            "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=&#39;y&#39;&gt;&amp;\\u{0001}"
        );
    }

    #[test]
    fn table_cells_are_escaped() {
        let mut s = String::new();
        table(
            &mut s,
            "t\"x",
            &["<h>"],
            vec![vec![Cell::text("<b>"), Cell::num(3)]],
        );
        assert!(s.contains("id=\"t&quot;x\""), "{s}");
        assert!(
            s.contains("<td>&lt;b&gt;</td><td class=\"n\">3</td>"),
            "{s}"
        );
        assert!(!s.contains("<b>") && !s.contains("<h>"), "{s}");
    }
}
