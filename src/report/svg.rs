//! Inline SVG figures: the alert timeline, score bars and 24-bin histograms. Static
//! markup only (no script, no external reference); every label goes through
//! [`esc`]. Each figure carries a `<title>` for hover text and readers.

use std::fmt::Write as _;

use super::html::{esc, esc_into};
use super::timeline::{LEVELS, Timeline};
use crate::time::Timestamp;

/// Fill colour per level, in [`LEVELS`] order.
const LEVEL_COLOURS: [&str; 6] = [
    "#9aa5b1", "#4e9a06", "#c4a000", "#ce5c00", "#a40000", "#75507b",
];

/// Columns of the timeline drawing.
pub const TIMELINE_COLUMNS: usize = 120;

fn fmt_time(t: Timestamp) -> String {
    t.sysmon().to_string()
}

/// A human span: `90 s`, `15 min`, `2.5 h`, `3.0 d`.
pub fn span(ns: i64) -> String {
    let s = ns as f64 / 1e9;
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 172_800.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} d", s / 86_400.0)
    }
}

/// The alert timeline: stacked bars per level, time on x.
pub fn timeline(t: &Timeline) -> String {
    let (cols, start, width) = t.columns(TIMELINE_COLUMNS);
    let (w, h, left, bottom) = (960.0_f64, 180.0_f64, 48.0_f64, 34.0_f64);
    let plot_h = h - bottom - 10.0;
    let max = cols
        .iter()
        .map(|c| c.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let bar_w = (w - left - 8.0) / cols.len().max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"timeline\" role=\"img\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\">\
         <title>Alerting events over time, {} per column</title>",
        esc(&span(width))
    );
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" class=\"axis\"/>\
         <text x=\"{tx}\" y=\"16\" class=\"lbl\" text-anchor=\"end\">{max}</text>\
         <text x=\"{tx}\" y=\"{y}\" class=\"lbl\" text-anchor=\"end\">0</text>",
        y = 10.0 + plot_h,
        x2 = w - 8.0,
        tx = left - 4.0,
    );
    for (i, c) in cols.iter().enumerate() {
        let total: u64 = c.iter().sum();
        if total == 0 {
            continue;
        }
        let x = left + i as f64 * bar_w;
        let mut y = 10.0 + plot_h;
        let from = Timestamp(
            start
                .as_nanos()
                .saturating_add(width.saturating_mul(i as i64)),
        );
        let tip: Vec<String> = LEVELS
            .iter()
            .zip(c)
            .filter(|(_, n)| **n > 0)
            .map(|(l, n)| format!("{n} {l}"))
            .collect();
        let _ = write!(
            s,
            "<g><title>{}: {}</title>",
            esc(&fmt_time(from)),
            esc(&tip.join(", "))
        );
        for (level, n) in c.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let bh = plot_h * *n as f64 / max as f64;
            y -= bh;
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"{}\"/>",
                LEVEL_COLOURS.get(level).unwrap_or(&"#000"),
                bw = (bar_w - 1.0).max(1.0),
            );
        }
        s.push_str("</g>");
    }
    let end = Timestamp(
        start
            .as_nanos()
            .saturating_add(width.saturating_mul(cols.len() as i64)),
    );
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"{ly}\" class=\"lbl\">{}</text>\
         <text x=\"{rx}\" y=\"{ly}\" class=\"lbl\" text-anchor=\"end\">{}</text>",
        esc(&fmt_time(start)),
        esc(&fmt_time(end)),
        ly = h - 12.0,
        rx = w - 8.0,
    );
    s.push_str("</svg>");
    s
}

/// The level legend under the timeline (HTML, so it reads without the figure).
pub fn legend() -> String {
    let mut s = String::from("<p class=\"legend\">");
    for (l, c) in LEVELS.iter().zip(LEVEL_COLOURS) {
        let _ = write!(
            s,
            "<span><span class=\"swatch\" style=\"background:{c}\"></span>{l}</span> "
        );
    }
    s.push_str("</p>");
    s
}

/// Horizontal bars: each figure's value over its scale, with the scale marked when
/// it is a threshold (a value past it draws up to twice the scale, then stops with
/// an arrow-like cap: the number beside it is exact).
pub fn bars(figures: &[(&str, f64, f64)], threshold_marks: bool) -> String {
    let (label_w, bar_w, row_h) = (66.0_f64, 110.0_f64, 15.0_f64);
    let w = label_w + bar_w + 40.0;
    let h = row_h * figures.len() as f64 + 4.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"bars\" role=\"img\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\"><title>"
    );
    let tip: Vec<String> = figures.iter().map(|(n, v, _)| format!("{n} {v}")).collect();
    esc_into(&mut s, &tip.join(", "));
    s.push_str("</title>");
    // With thresholds the scale sits mid-bar, so a bar shows how far past it a value is.
    let full = if threshold_marks { 2.0 } else { 1.0 };
    for (i, (name, value, scale)) in figures.iter().enumerate() {
        let y = 2.0 + i as f64 * row_h;
        let frac = if *scale > 0.0 { value / scale } else { 0.0 };
        let frac = frac.clamp(0.0, full) / full;
        let _ = write!(
            s,
            "<text x=\"{tx}\" y=\"{ty}\" class=\"lbl\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{bar_w}\" height=\"{bh}\" class=\"track\"/>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{fw:.1}\" height=\"{bh}\" class=\"fill\"/>\
             <text x=\"{vx}\" y=\"{ty}\" class=\"lbl\">{}</text>",
            esc(name),
            esc(&format_value(*value)),
            tx = label_w - 4.0,
            ty = y + 10.5,
            bh = row_h - 3.0,
            fw = bar_w * frac,
            vx = label_w + bar_w + 4.0,
        );
        if threshold_marks || i == 0 {
            let mark = if threshold_marks {
                0.5
            } else {
                scale.clamp(0.0, 1.0)
            };
            let mx = label_w + bar_w * mark;
            let _ = write!(
                s,
                "<line x1=\"{mx:.1}\" y1=\"{y}\" x2=\"{mx:.1}\" y2=\"{y2}\" class=\"mark\"/>",
                y2 = y + row_h - 3.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// A number as the page shows it: integers plain, others with three decimals.
pub fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// A histogram of counts per bin (24 bins over the window for c2tap's alerts).
pub fn histogram(counts: &[u64], what: &str) -> String {
    let (bar_w, h) = (7.0_f64, 40.0_f64);
    let w = bar_w * counts.len().max(1) as f64 + 2.0;
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"hist\" role=\"img\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\"><title>"
    );
    esc_into(
        &mut s,
        &format!(
            "{what} per bin: {}",
            counts
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        ),
    );
    s.push_str("</title>");
    let _ = write!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" class=\"track\"/>"
    );
    for (i, c) in counts.iter().enumerate() {
        if *c == 0 {
            continue;
        }
        let bh = (h - 2.0) * *c as f64 / max as f64;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" class=\"fill\"/>",
            x = 1.0 + i as f64 * bar_w,
            y = h - 1.0 - bh,
            bw = bar_w - 1.0,
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_static_and_escaped() {
        let b = bars(&[("<x>", 0.5, 1.0)], false);
        assert!(b.contains("&lt;x&gt;") && !b.contains("<x>"), "{b}");
        let h = histogram(&[1, 0, 3], "check-ins");
        assert_eq!(h.matches("class=\"fill\"").count(), 2, "{h}");
        let mut t = Timeline::default();
        t.add(Timestamp::from_secs(1_800_000_000), 3);
        let svg = timeline(&t);
        assert!(svg.contains("<rect") && !svg.contains("<script"), "{svg}");
    }
}
