//! Plots as inline SVG: grouped bar charts, heat maps and overlaid histograms. No scripts,
//! no external assets; every element carries a `<title>` so values show on hover.

use std::fmt::Write;

/// Colour of the real side.
pub const REAL: &str = "#2b6cb0";
/// Colour of the synthetic side.
pub const SYNTHETIC: &str = "#dd6b20";

/// Escapes text for HTML and SVG.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let kept: String = text.chars().take(width.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

/// Side-by-side bars of two shares per label (real, synthetic).
pub fn grouped_bars(title: &str, labels: &[String], real: &[f64], synthetic: &[f64]) -> String {
    let (width, height, left, bottom, top) = (420.0, 220.0, 40.0, 60.0, 24.0);
    let n = labels.len().max(1) as f64;
    let plot_w = width - left - 10.0;
    let plot_h = height - bottom - top;
    let max = real
        .iter()
        .chain(synthetic)
        .fold(0.0f64, |m, v| m.max(*v))
        .max(1e-9);
    let slot = plot_w / n;
    let bar = (slot * 0.4).max(1.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="plot" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{}">"#,
        escape(title)
    );
    let _ = write!(
        svg,
        r#"<text x="{left}" y="16" class="plot-title">{}</text>"#,
        escape(title)
    );
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#888"/>"##,
        top + plot_h,
        left + plot_w,
        top + plot_h
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" class="axis" text-anchor="end">{:.0}%</text>"#,
        left - 4.0,
        top + 8.0,
        max * 100.0
    );
    for (i, label) in labels.iter().enumerate() {
        let x = left + slot * i as f64 + slot * 0.1;
        for (k, (value, colour, side)) in [
            (real.get(i).copied().unwrap_or(0.0), REAL, "real"),
            (
                synthetic.get(i).copied().unwrap_or(0.0),
                SYNTHETIC,
                "synthetic",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let h = (value / max * plot_h).max(0.0);
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="{bar:.1}" height="{h:.1}" fill="{colour}"><title>{} {side}: {:.2}%</title></rect>"#,
                x + bar * k as f64,
                top + plot_h - h,
                escape(label),
                value * 100.0
            );
        }
        if labels.len() <= 24 {
            let cx = x + bar;
            let cy = top + plot_h + 10.0;
            let _ = write!(
                svg,
                r#"<text x="{cx:.1}" y="{cy:.1}" class="axis" text-anchor="end" transform="rotate(-45 {cx:.1} {cy:.1})">{}</text>"#,
                escape(&clip(label, 12))
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// The colour of a value in [-1, 1] (diverging blue–white–red) or [0, 1] (white–red).
fn heat_colour(value: f64, diverging: bool) -> String {
    let v = if diverging {
        value.clamp(-1.0, 1.0)
    } else {
        value.clamp(0.0, 1.0)
    };
    let (r, g, b) = if v >= 0.0 {
        (255.0, 255.0 - 180.0 * v, 255.0 - 200.0 * v)
    } else {
        (255.0 + 200.0 * v, 255.0 + 130.0 * v, 255.0)
    };
    format!("rgb({:.0},{:.0},{:.0})", r, g, b)
}

/// A square heat map of a row-major matrix.
pub fn heatmap(title: &str, columns: &[String], values: &[f64], diverging: bool) -> String {
    let n = columns.len();
    let cell = if n > 20 { 12.0 } else { 18.0 };
    let left = 110.0;
    let top = 30.0;
    let size = cell * n as f64;
    let (width, height) = (left + size + 10.0, top + size + 10.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="plot" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{}">"#,
        escape(title)
    );
    let _ = write!(
        svg,
        r#"<text x="4" y="16" class="plot-title">{}</text>"#,
        escape(title)
    );
    for (i, name) in columns.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" class="axis" text-anchor="end">{}</text>"#,
            left - 4.0,
            top + cell * (i as f64 + 0.7),
            escape(&clip(name, 16))
        );
        for (j, other) in columns.iter().enumerate() {
            let value = values.get(i * n + j).copied().unwrap_or(0.0);
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="{cell}" height="{cell}" fill="{}"><title>{} × {}: {value:.3}</title></rect>"#,
                left + cell * j as f64,
                top + cell * i as f64,
                heat_colour(value, diverging),
                escape(name),
                escape(other)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape(r#"<a & "b">"#), "&lt;a &amp; &quot;b&quot;&gt;");
        let svg = grouped_bars("x<y", &["<script>".into()], &[0.5], &[0.25]);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
    }

    #[test]
    fn bars_scale_to_the_largest_share() {
        let svg = grouped_bars("t", &["a".into(), "b".into()], &[0.5, 0.25], &[0.25, 0.0]);
        assert_eq!(svg.matches("<rect").count(), 4);
        // The tallest bar spans the whole plot height (220 − 60 − 24 = 136).
        assert!(svg.contains(r#"height="136.0""#), "{svg}");
    }

    #[test]
    fn heat_colours_follow_sign_and_size() {
        assert_eq!(heat_colour(0.0, true), "rgb(255,255,255)");
        assert_eq!(heat_colour(1.0, true), "rgb(255,75,55)");
        assert_eq!(heat_colour(-1.0, true), "rgb(55,125,255)");
        let svg = heatmap("m", &["a".into(), "b".into()], &[1.0, 0.5, 0.5, 1.0], false);
        assert_eq!(svg.matches("<rect").count(), 4);
    }
}
