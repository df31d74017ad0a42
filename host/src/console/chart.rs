//! Charts as SVG, drawn on the server: columns over time, lines over time,
//! and ranked horizontal bars. No script and no inline style: colours come
//! from the console's style sheet by class.
//!
//! Every chart carries `data-chart` (its name), `data-points` and `data-total`
//! (the sum of its values), so a test or a script can read what it shows.

use maud::{Markup, PreEscaped, html};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 10.0;

/// One point of a series: its label (a time) and value (NaN: no value, which
/// a column draws as nothing and a line skips).
pub type Point = (String, f64);

/// The sum of the values that are numbers.
fn sum(values: impl Iterator<Item = f64>) -> f64 {
    values.filter(|v| !v.is_nan()).sum()
}

fn scale_max(values: impl Iterator<Item = f64>) -> f64 {
    // `f64::max` ignores NaN.
    let max = values.fold(0.0f64, f64::max);
    if max <= 0.0 { 1.0 } else { max * 1.1 }
}

fn y_of(value: f64, max: f64) -> f64 {
    TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - value / max)
}

/// The axis: the top value's label, zero, and the first and last labels.
fn axes(max: f64, first: &str, last: &str, format: &dyn Fn(f64) -> String) -> Markup {
    let bottom = HEIGHT - BOTTOM;
    html! {
        line.axis x1=(LEFT) y1=(bottom) x2=(WIDTH) y2=(bottom) {}
        line.axis x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(bottom) {}
        text.tick x=(LEFT - 4.0) y=(TOP + 8.0) text-anchor="end" { (format(max / 1.1)) }
        text.tick x=(LEFT - 4.0) y=(bottom) text-anchor="end" { "0" }
        text.tick x=(LEFT) y=(HEIGHT - 6.0) { (first) }
        text.tick x=(WIDTH) y=(HEIGHT - 6.0) text-anchor="end" { (last) }
    }
}

fn empty(name: &str, title: &str) -> Markup {
    html! {
        figure.chart {
            figcaption { (title) }
            svg.chart data-chart=(name) data-points="0" data-total="0"
                viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" {
                title { (title) ": no data in this range" }
                text.empty x=(WIDTH / 2.0) y=(HEIGHT / 2.0) text-anchor="middle" { "no data in this range" }
            }
        }
    }
}

/// Columns over time: one bar per point.
pub fn columns(
    name: &str,
    title: &str,
    points: &[Point],
    format: &dyn Fn(f64) -> String,
) -> Markup {
    if points.is_empty() {
        return empty(name, title);
    }
    let max = scale_max(points.iter().map(|p| p.1));
    let total = sum(points.iter().map(|p| p.1));
    let step = (WIDTH - LEFT) / points.len() as f64;
    let bar = (step * 0.8).max(1.0);
    let bottom = HEIGHT - BOTTOM;
    html! {
        figure.chart {
            figcaption { (title) ": " strong { (format(total)) } }
            svg.chart data-chart=(name) data-points=(points.len()) data-total=(total)
                viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" {
                title { (title) }
                (axes(max, &points[0].0, &points[points.len() - 1].0, format))
                @for (i, (label, value)) in points.iter().enumerate().filter(|(_, p)| !p.1.is_nan()) {
                    @let y = y_of(*value, max);
                    rect.bar x=(LEFT + i as f64 * step + (step - bar) / 2.0) y=(y)
                        width=(bar) height=((bottom - y).max(0.0)) {
                        title { (label) ": " (format(*value)) }
                    }
                }
            }
        }
    }
}

/// Lines over time, one per named series (each has its own class: `s0`, `s1`).
pub fn lines(
    name: &str,
    title: &str,
    series: &[(&str, Vec<Point>)],
    format: &dyn Fn(f64) -> String,
) -> Markup {
    let Some(longest) = series.iter().map(|s| &s.1).max_by_key(|p| p.len()) else {
        return empty(name, title);
    };
    if longest.is_empty() {
        return empty(name, title);
    }
    let max = scale_max(series.iter().flat_map(|s| s.1.iter().map(|p| p.1)));
    let count = longest.len();
    let step = (WIDTH - LEFT) / count.max(2).saturating_sub(1) as f64;
    let total = sum(series.iter().flat_map(|s| s.1.iter().map(|p| p.1)));
    html! {
        figure.chart {
            figcaption {
                (title)
                @for (i, (label, _)) in series.iter().enumerate() {
                    " " span class={ "key s" (i) } { "■ " (label) }
                }
            }
            svg.chart data-chart=(name) data-points=(count) data-total=(total)
                viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" {
                title { (title) }
                (axes(max, &longest[0].0, &longest[count - 1].0, format))
                @for (i, (label, points)) in series.iter().enumerate() {
                    @let path: Vec<String> = points.iter().enumerate()
                        .filter(|(_, p)| !p.1.is_nan())
                        .map(|(j, p)| format!("{:.1},{:.1}", LEFT + j as f64 * step, y_of(p.1, max)))
                        .collect();
                    polyline class={ "line s" (i) } points=(path.join(" ")) {
                        title { (label) }
                    }
                    @for (j, (at, value)) in points.iter().enumerate().filter(|(_, p)| !p.1.is_nan()) {
                        circle class={ "dot s" (i) } cx=(LEFT + j as f64 * step) cy=(y_of(*value, max)) r="2.5" {
                            title { (label) " " (at) ": " (format(*value)) }
                        }
                    }
                }
            }
        }
    }
}

/// Ranked horizontal bars: a label, a bar, and the value in words.
pub fn ranking(name: &str, title: &str, items: &[(String, f64, String)]) -> Markup {
    if items.is_empty() {
        return empty(name, title);
    }
    let max = scale_max(items.iter().map(|i| i.1));
    let row = 22.0;
    let height = row * items.len() as f64 + 4.0;
    let label_width = 170.0;
    let total = sum(items.iter().map(|i| i.1));
    html! {
        figure.chart {
            figcaption { (title) }
            svg.chart.ranking data-chart=(name) data-points=(items.len()) data-total=(total)
                viewBox={ "0 0 " (WIDTH) " " (height) } role="img" {
                title { (title) }
                @for (i, (label, value, words)) in items.iter().enumerate() {
                    @let y = i as f64 * row + 2.0;
                    @let shown = if label.is_empty() { "(none)" } else { label.as_str() };
                    text.label x="0" y=(y + 15.0) { (shown) }
                    rect.bar x=(label_width) y=(y + 3.0)
                        width=(((WIDTH - label_width - 110.0) * value / max).max(1.0)) height=(row - 6.0) {}
                    text.value x=(WIDTH) y=(y + 15.0) text-anchor="end" { (words) }
                }
            }
        }
    }
}

/// A bar of `fraction` (0..=1, more is clipped) for a budget's use, classed
/// `ok`, `near` (past 80%) or `over`.
pub fn meter(fraction: f64) -> Markup {
    let class = if fraction >= 1.0 {
        "over"
    } else if fraction >= 0.8 {
        "near"
    } else {
        "ok"
    };
    let width = 160.0;
    html! {
        svg.meter width=(width) height="12" viewBox={ "0 0 " (width) " 12" } role="img" data-fraction=(fraction) {
            title { (format!("{:.0}%", fraction * 100.0)) }
            rect.track x="0" y="0" width=(width) height="12" {}
            rect class={ "fill " (class) } x="0" y="0" width=(width * fraction.clamp(0.0, 1.0)) height="12" {}
        }
        (PreEscaped(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_carry_their_total_and_escape_labels() {
        let svg = columns(
            "requests",
            "Requests",
            &[("<b>".into(), 2.0), ("t2".into(), 3.0)],
            &|v| format!("{v}"),
        )
        .into_string();
        assert!(svg.contains("data-total=\"5\""), "{svg}");
        assert!(svg.contains("data-points=\"2\""));
        assert!(!svg.contains("<b>"));
        assert!(!svg.contains("style="));
    }

    #[test]
    fn a_line_skips_missing_values() {
        let svg = lines(
            "latency",
            "Latency",
            &[(
                "p50",
                vec![("a".into(), 1.0), ("b".into(), f64::NAN), ("c".into(), 3.0)],
            )],
            &|v| format!("{v}"),
        )
        .into_string();
        assert_eq!(svg.matches("<circle").count(), 2, "{svg}");
        assert!(svg.contains("data-total=\"4\""));
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn an_empty_series_says_so() {
        let svg = lines("latency", "Latency", &[("p50", vec![])], &|v| {
            format!("{v}")
        })
        .into_string();
        assert!(svg.contains("no data in this range"));
    }
}
