//! Charts drawn on the server as SVG: no chart library in the page and no script needed to
//! see them. Written here because the two shapes the dashboard needs (stacked bars around a
//! zero line, lines with an interval band) are small, and the SVG-drawing crates (plotters)
//! bring fonts and a drawing backend for far more than this. Every chart has a title and a
//! description for screen readers, a `<title>` per mark for pointer users, and its numbers in
//! a table under a disclosure for keyboard and screen-reader users.

use maud::{Markup, html};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 26.0;

/// One stacked quantity of a bar chart: a value per bucket.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    /// A CSS class giving its colour (`dashboard.css`).
    pub class: &'static str,
    pub values: Vec<f64>,
}

/// A point of a band chart: `(mean, lower, upper)`.
pub type BandPoint = (f64, f64, f64);

/// One line of a band chart: per point, the mean and the interval around it.
#[derive(Debug, Clone)]
pub struct Band {
    pub label: String,
    pub class: &'static str,
    /// `(mean, lower, upper)` per point; `None` where the series had no value yet.
    pub points: Vec<Option<BandPoint>>,
}

/// The smallest of 1, 2, 5 × 10ⁿ at least `v` (1 for nothing at all): an axis maximum people
/// can read.
pub fn nice_ceiling(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= v * (1.0 - 1e-12))
        .unwrap_or(10.0 * magnitude)
}

/// Where a point of the drawing lies in the chart, in percent of its width or height. Axis
/// text is placed by these in the outer SVG, which has no viewBox: the marks are drawn in an
/// inner SVG stretched to the box (`preserveAspectRatio="none"`), and text in there would be
/// stretched with them.
fn percent_of(v: f64, whole: f64) -> String {
    format!("{:.2}%", v / whole * 100.0)
}

/// A label of the y axis at drawing height `y`.
fn y_label(y: f64, text: &str) -> Markup {
    html! {
        text.axis x=(percent_of(LEFT, WIDTH)) dx="-6" y=(percent_of(y, HEIGHT))
            text-anchor="end" dominant-baseline="middle" aria-hidden="true" { (text) }
    }
}

/// A label of the x axis at drawing abscissa `x`; the first and the last are aligned inwards.
fn x_label(x: f64, text: &str, first: bool, last: bool) -> Markup {
    let anchor = match (first, last) {
        (true, _) => "start",
        (_, true) => "end",
        _ => "middle",
    };
    html! {
        text.axis x=(percent_of(x, WIDTH)) y="100%" dy="-6" text-anchor=(anchor) aria-hidden="true" { (text) }
    }
}

/// The labels under the x axis: first, middle and last bucket.
fn axis_positions(n: usize) -> Vec<usize> {
    match n {
        0 => Vec::new(),
        1 => vec![0],
        2 => vec![0, 1],
        _ => vec![0, n / 2, n - 1],
    }
}

/// Stacked bars per bucket: positive values stack up from zero, negative ones down.
/// `buckets` names each bucket in full (for titles and the table), `ticks` shortly (under the
/// axis); `format` writes a value.
pub fn bars(
    id: &str,
    title: &str,
    description: &str,
    buckets: &[String],
    ticks: &[String],
    series: &[Series],
    format: &dyn Fn(f64) -> String,
) -> Markup {
    let n = buckets.len().max(1);
    let (mut top, mut bottom) = (0f64, 0f64);
    for i in 0..buckets.len() {
        let up: f64 = series.iter().map(|s| s.values[i].max(0.0)).sum();
        let down: f64 = series.iter().map(|s| s.values[i].min(0.0)).sum();
        top = top.max(up);
        bottom = bottom.min(down);
    }
    let top = if top > 0.0 { nice_ceiling(top) } else { 0.0 };
    let bottom = if bottom < 0.0 {
        -nice_ceiling(-bottom)
    } else {
        0.0
    };
    let (top, bottom) = if top == 0.0 && bottom == 0.0 {
        (1.0, 0.0)
    } else {
        (top, bottom)
    };
    let plot_height = HEIGHT - TOP - BOTTOM;
    let y = |v: f64| TOP + (top - v) / (top - bottom) * plot_height;
    let step = (WIDTH - LEFT - RIGHT) / n as f64;
    let bar = (step * 0.8).max(1.0);
    let mut marks = Vec::new();
    for (i, bucket) in buckets.iter().enumerate() {
        let x = LEFT + i as f64 * step + (step - bar) / 2.0;
        let (mut up, mut down) = (0f64, 0f64);
        for s in series {
            let v = s.values[i];
            if v == 0.0 {
                continue;
            }
            let (from, to) = if v > 0.0 {
                up += v;
                (up - v, up)
            } else {
                down += v;
                (down - v, down)
            };
            let (y0, y1) = (y(from.max(to)), y(from.min(to)));
            marks.push((
                s.class,
                x,
                y0,
                bar,
                (y1 - y0).max(0.5),
                format!("{bucket}: {} {}", s.label, format(v)),
            ));
        }
    }
    let gridlines: Vec<f64> = [top, bottom]
        .into_iter()
        .chain((bottom < 0.0 && top > 0.0).then_some(0.0))
        .collect();
    let title_id = format!("{id}-title");
    let desc_id = format!("{id}-desc");
    html! {
        figure.chart id=(id) {
            svg role="img" aria-labelledby=(format!("{title_id} {desc_id}")) {
                title id=(title_id) { (title) }
                desc id=(desc_id) { (description) }
                svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) width="100%" height="100%" preserveAspectRatio="none" {
                @for v in &gridlines {
                    line.grid x1=(LEFT) x2=(WIDTH - RIGHT) y1=(y(*v)) y2=(y(*v)) {}
                }
                @for (class, x, y, w, h, label) in &marks {
                    rect class=(class) x=(format!("{x:.1}")) y=(format!("{y:.1}"))
                        width=(format!("{w:.1}")) height=(format!("{h:.1}")) {
                        title { (label) }
                    }
                }
                }
                @for v in &gridlines { (y_label(y(*v), &format(*v))) }
                @for i in axis_positions(buckets.len()) {
                    (x_label(LEFT + (i as f64 + 0.5) * step, ticks.get(i).map_or("", String::as_str),
                        i == 0, i > 0 && i + 1 == buckets.len()))
                }
            }
            (legend(series.iter().map(|s| (s.label.as_str(), s.class))))
            details.numbers {
                summary { "Numbers" }
                div.table-wrap {
                    table {
                        thead { tr { th scope="col" { "From" } @for s in series { th scope="col" { (s.label) } } } }
                        tbody {
                            @for (i, bucket) in buckets.iter().enumerate() {
                                @if series.iter().any(|s| s.values[i] != 0.0) {
                                    tr { th scope="row" { (bucket) } @for s in series { td.num { (format(s.values[i])) } } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Lines with their interval as a shaded band, one per series, on a 0–1 scale zoomed to the
/// lowest interval shown. A series is drawn where it has values; a lone value is a dot with
/// its interval as a bar.
pub fn bands(
    id: &str,
    title: &str,
    description: &str,
    points: &[String],
    ticks: &[String],
    series: &[Band],
) -> Markup {
    let lowest = series
        .iter()
        .flat_map(|s| s.points.iter().flatten().map(|p| p.1))
        .fold(1.0f64, f64::min);
    // Zoom to the tenth below the lowest interval: differences of a few points stay visible.
    let bottom = ((lowest * 10.0).floor() / 10.0).clamp(0.0, 0.9);
    let plot_height = HEIGHT - TOP - BOTTOM;
    let y = |v: f64| TOP + (1.0 - v.clamp(bottom, 1.0)) / (1.0 - bottom) * plot_height;
    let n = points.len().max(2);
    let x = |i: usize| LEFT + i as f64 / (n - 1) as f64 * (WIDTH - LEFT - RIGHT);
    let path = |values: &mut dyn Iterator<Item = (usize, f64)>| {
        values
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(v)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let gridlines = [1.0, (1.0 + bottom) / 2.0, bottom];
    let title_id = format!("{id}-title");
    let desc_id = format!("{id}-desc");
    let percent = |v: f64| format!("{:.1} %", v * 100.0);
    html! {
        figure.chart id=(id) {
            svg role="img" aria-labelledby=(format!("{title_id} {desc_id}")) {
                title id=(title_id) { (title) }
                desc id=(desc_id) { (description) }
                svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) width="100%" height="100%" preserveAspectRatio="none" {
                @for v in gridlines {
                    line.grid x1=(LEFT) x2=(WIDTH - RIGHT) y1=(y(v)) y2=(y(v)) {}
                }
                @for s in series {
                    g class=(s.class) {
                        title { (s.label) }
                        @for run in runs(&s.points) {
                            @if let [(i, (mean, lower, upper))] = run.as_slice() {
                                line.interval x1=(format!("{:.1}", x(*i))) x2=(format!("{:.1}", x(*i)))
                                    y1=(format!("{:.1}", y(*upper))) y2=(format!("{:.1}", y(*lower))) {}
                                line.dot x1=(format!("{:.1}", x(*i))) x2=(format!("{:.1}", x(*i)))
                                    y1=(format!("{:.1}", y(*mean))) y2=(format!("{:.1}", y(*mean))) {}
                            } @else {
                                polygon.band points=(format!("{} {}",
                                    path(&mut run.iter().map(|(i, p)| (*i, p.2))),
                                    path(&mut run.iter().rev().map(|(i, p)| (*i, p.1))))) {}
                                polyline.line points=(path(&mut run.iter().map(|(i, p)| (*i, p.0)))) {}
                            }
                        }
                    }
                }
                }
                @for v in gridlines { (y_label(y(v), &format!("{:.0} %", v * 100.0))) }
                @for i in axis_positions(points.len()) {
                    (x_label(x(i), ticks.get(i).map_or("", String::as_str), i == 0, i > 0 && i + 1 == points.len()))
                }
            }
            (legend(series.iter().map(|s| (s.label.as_str(), s.class))))
            details.numbers {
                summary { "Numbers" }
                div.table-wrap {
                    table {
                        thead { tr { th scope="col" { "At" } @for s in series { th scope="col" { (s.label) } } } }
                        tbody {
                            @for (i, at) in points.iter().enumerate() {
                                @if series.iter().any(|s| s.points.get(i).is_some_and(Option::is_some)) {
                                    tr {
                                        th scope="row" { (at) }
                                        @for s in series {
                                            td.num {
                                                @if let Some(Some((mean, lower, upper))) = s.points.get(i) {
                                                    (percent(*mean)) " (" (percent(*lower)) "–" (percent(*upper)) ")"
                                                } @else { "–" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The stretches of consecutive points that have a value, each point with its index.
fn runs(points: &[Option<BandPoint>]) -> Vec<Vec<(usize, BandPoint)>> {
    let mut runs: Vec<Vec<(usize, BandPoint)>> = Vec::new();
    let mut previous = None;
    for (i, p) in points.iter().enumerate() {
        let Some(p) = p else { continue };
        match runs.last_mut() {
            Some(run) if previous == Some(i.wrapping_sub(1)) => run.push((i, *p)),
            _ => runs.push(vec![(i, *p)]),
        }
        previous = Some(i);
    }
    runs
}

fn legend<'a>(entries: impl Iterator<Item = (&'a str, &'static str)>) -> Markup {
    html! {
        ul.legend {
            @for (label, class) in entries {
                li { span class=(format!("swatch {class}")) aria-hidden="true" {} (label) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_are_round_and_never_below_the_data() {
        for (v, want) in [
            (0.0, 1.0),
            (0.3, 0.5),
            (1.0, 1.0),
            (7.0, 10.0),
            (12.0, 20.0),
            (20.0, 20.0),
            (4_100.0, 5_000.0),
        ] {
            assert_eq!(nice_ceiling(v), want, "{v}");
        }
        for v in [0.013, 3.7, 99.0, 101.0, 123_456.0] {
            let c = nice_ceiling(v);
            assert!(c >= v && c < v * 5.0, "{v} -> {c}");
        }
    }

    fn rect_heights_and_tops(svg: &str) -> Vec<(f64, f64)> {
        svg.split("<rect ")
            .skip(1)
            .map(|r| {
                let attr = |name: &str| -> f64 {
                    let start = r.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                    r[start..].split('"').next().unwrap().parse().unwrap()
                };
                (attr("y"), attr("height"))
            })
            .collect()
    }

    #[test]
    fn positive_values_stand_on_the_zero_line_and_negative_ones_hang_below_it() {
        let buckets: Vec<String> = vec!["a".into(), "b".into()];
        let series = [
            Series {
                label: "refunds".into(),
                class: "refund",
                values: vec![4.0, 0.0],
            },
            Series {
                label: "reversals".into(),
                class: "reversal",
                values: vec![0.0, -2.0],
            },
        ];
        let svg = bars(
            "m",
            "money",
            "refunds and reversals",
            &buckets,
            &buckets,
            &series,
            &|v| format!("{v}"),
        )
        .into_string();
        let rects = rect_heights_and_tops(&svg);
        assert_eq!(rects.len(), 2, "a zero draws nothing: {svg}");
        let (up_top, up_height) = rects[0];
        let (down_top, down_height) = rects[1];
        let zero = up_top + up_height;
        assert!((down_top - zero).abs() < 0.2, "{zero} vs {down_top}");
        assert!(
            (up_height - 2.0 * down_height).abs() < 0.5,
            "4 is twice as tall as 2"
        );
        assert!(svg.contains("<title>a: refunds 4</title>"));
        assert!(
            svg.contains("<td class=\"num\">-2</td>"),
            "the numbers table"
        );
    }

    #[test]
    fn text_is_escaped_and_band_points_stay_in_the_plot() {
        let points: Vec<String> = vec!["p0".into(), "p1".into(), "p2".into()];
        let svg = bands(
            "b",
            "<script>",
            "d",
            &points,
            &points,
            &[Band {
                label: "a&b".into(),
                class: "p0",
                points: vec![
                    Some((0.9, 0.8, 0.95)),
                    Some((0.5, 0.3, 0.7)),
                    Some((1.0, 0.99, 1.0)),
                ],
            }],
        )
        .into_string();
        assert!(!svg.contains("<script>") && svg.contains("&lt;script&gt;"));
        assert!(svg.contains("a&amp;b"));
        let line = svg
            .split("polyline class=\"line\" points=\"")
            .nth(1)
            .unwrap();
        for pair in line.split('"').next().unwrap().split(' ') {
            let (x, y) = pair.split_once(',').unwrap();
            let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
            assert!((LEFT..=WIDTH - RIGHT).contains(&x), "{x}");
            assert!((TOP..=HEIGHT - BOTTOM).contains(&y), "{y}");
        }
    }

    #[test]
    fn a_series_with_gaps_is_drawn_in_pieces_and_a_lone_value_as_a_dot() {
        let points: Vec<String> = (0..5).map(|i| format!("p{i}")).collect();
        let svg = bands(
            "g",
            "t",
            "d",
            &points,
            &points,
            &[Band {
                label: "a".into(),
                class: "p0",
                points: vec![
                    None,
                    Some((0.9, 0.8, 0.95)),
                    Some((0.8, 0.7, 0.9)),
                    None,
                    Some((0.7, 0.6, 0.8)),
                ],
            }],
        )
        .into_string();
        assert_eq!(svg.matches("<polyline").count(), 1, "{svg}");
        assert_eq!(svg.matches("class=\"dot\"").count(), 1, "{svg}");
        assert_eq!(svg.matches("class=\"interval\"").count(), 1, "{svg}");
        // The numbers table has a row for each of the three points with a value.
        assert_eq!(svg.matches("<th scope=\"row\">").count(), 3, "{svg}");
        // Axis text sits in the outer SVG, after the stretched inner one has closed.
        let labels = svg.split("</svg>").nth(1).unwrap();
        assert!(labels.contains("<text"), "{svg}");
    }
}
