//! The chart of `make bench-peers`: cumulative distributions of submit -> started latency, one
//! curve per system, as a PNG. Each `--series "TITLE=FILE"` names a file of samples in
//! microseconds, one per line (river-bench, temporal-bench and bench-e2e write them with
//! --samples-out). The x axis is logarithmic (milliseconds), the y axis the share of tasks
//! started by then.
//! Drawn with plotters' bitmap backend; text uses the DejaVu Sans font embedded in the binary,
//! so no system font is needed.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

#[derive(Parser, Debug)]
#[command(about = "PNG of latency distributions (CDF) for `make bench-peers`")]
struct Args {
    /// A curve: "TITLE=FILE" (samples in µs, one per line). Repeat for each.
    #[arg(long = "series", value_parser = titled_path, required = true)]
    series: Vec<(String, PathBuf)>,
    /// The PNG to write.
    #[arg(long)]
    out: PathBuf,
    /// Title above the chart.
    #[arg(long, default_value = "submit -> started")]
    title: String,
    #[arg(long, default_value_t = 1200)]
    width: u32,
    #[arg(long, default_value_t = 700)]
    height: u32,
}

fn titled_path(s: &str) -> Result<(String, PathBuf), String> {
    let (title, path) = s.rsplit_once('=').ok_or("expected TITLE=FILE")?;
    Ok((title.to_owned(), PathBuf::from(path)))
}

fn read_samples(path: &PathBuf) -> anyhow::Result<Vec<f64>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let us: f64 = line
            .parse()
            .with_context(|| format!("{}:{}: not a number", path.display(), i + 1))?;
        // Milliseconds; 1 µs at least, so that the log axis can show it.
        samples.push(us.max(1.0) / 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((q * sorted.len() as f64).ceil() as usize).saturating_sub(1);
    sorted[i.min(sorted.len() - 1)]
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| anyhow::anyhow!("the embedded font does not load"))?;
    register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold())
        .map_err(|_| anyhow::anyhow!("the embedded font does not load"))?;

    let mut curves = Vec::new();
    for (title, path) in &args.series {
        let samples = read_samples(path)?;
        if samples.is_empty() {
            bail!("{}: no samples", path.display());
        }
        curves.push((title.clone(), samples));
    }
    let lo = curves
        .iter()
        .map(|(_, s)| s[0])
        .fold(f64::INFINITY, f64::min);
    let hi = curves
        .iter()
        .map(|(_, s)| s[s.len() - 1])
        .fold(0.0, f64::max);
    // Whole decades around the data.
    let x_lo = 10f64.powf(lo.log10().floor()).max(0.001);
    let x_hi = 10f64.powf(hi.log10().ceil()).max(x_lo * 10.0);

    let root = BitMapBackend::new(&args.out, (args.width, args.height)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            &args.title,
            ("sans-serif", 24).into_font().style(FontStyle::Bold),
        )
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), 0f64..100f64)?;
    chart
        .configure_mesh()
        .x_desc("submit -> started (ms, log scale)")
        .y_desc("tasks started (%)")
        .x_label_formatter(&|v| {
            if *v >= 1.0 {
                format!("{v:.0}")
            } else {
                format!("{v}")
            }
        })
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()?;
    for (i, (title, samples)) in curves.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let n = samples.len();
        // A step per sample, at most ~4000 points.
        let step = n.div_ceil(4000).max(1);
        let mut points: Vec<(f64, f64)> = Vec::with_capacity(2 * n / step + 2);
        let mut previous = 0.0;
        for (k, &x) in samples.iter().enumerate().step_by(step) {
            let y = 100.0 * (k + 1) as f64 / n as f64;
            points.push((x, previous));
            points.push((x, y));
            previous = y;
        }
        points.push((samples[n - 1], 100.0));
        let label = format!(
            "{title}: p50 {:.1} ms, p99 {:.1} ms ({} tasks)",
            quantile(samples, 0.5),
            quantile(samples, 0.99),
            n
        );
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
    }
    for q in [50.0, 99.0] {
        chart.draw_series(LineSeries::new(
            vec![(x_lo, q), (x_hi, q)],
            BLACK.mix(0.25).stroke_width(1),
        ))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()?;
    root.present()
        .with_context(|| format!("writing {}", args.out.display()))?;
    Ok(())
}
