//! The jobs view: running and queued jobs first, with progress bars and ETAs; the selected
//! job's details and loss sparkline below.

use mirage_proto::v1::{self, JobStatus};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Sparkline, Table, TableState};

use super::palette;
use crate::app::App;
use crate::format::{bar, duration, job_kind, job_status, short_id};
use crate::view::View;

/// Widths of the fixed columns: id, kind, status, node, ETA.
const FIXED: [u16; 5] = [12, 8, 9, 6, 7];

/// The style of a status.
pub fn status_style(status: i32) -> Style {
    match JobStatus::try_from(status) {
        Ok(JobStatus::Running) => palette::accent(),
        Ok(JobStatus::Queued) => palette::warn(),
        Ok(JobStatus::Succeeded) => palette::good(),
        Ok(JobStatus::Failed) => palette::bad(),
        _ => palette::muted(),
    }
}

/// Draws the jobs view in `area`.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let detail_height = if area.height >= 30 { 12 } else { 8 };
    let [list, detail] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(detail_height)]).areas(area);
    let jobs = app.visible_jobs();
    let block = Block::bordered().title(Span::styled(
        format!(" Jobs ({}) ", jobs.len()),
        palette::accent(),
    ));
    if jobs.is_empty() {
        frame.render_widget(super::empty(app, "jobs").block(block), list);
    } else {
        draw_table(frame, app, &jobs, block, list);
    }
    draw_detail(frame, app, detail);
}

fn draw_table(frame: &mut Frame, app: &App, jobs: &[&v1::Job], block: Block, area: Rect) {
    let fixed: u16 = FIXED.iter().sum::<u16>() + 5 + 2;
    let bar_width = usize::from(area.width.saturating_sub(fixed).saturating_sub(5)).clamp(4, 60);
    let rows = jobs.iter().map(|job| {
        let progress = format!(
            "{} {:>3.0}%",
            bar(job.progress, bar_width),
            job.progress * 100.0
        );
        let eta = if job.status == JobStatus::Running as i32 {
            app.eta_seconds(job)
                .map_or_else(|| "…".to_owned(), duration)
        } else {
            String::new()
        };
        Row::new(vec![
            Cell::from(short_id(&job.id)),
            Cell::from(job_kind(job.kind)),
            Cell::from(Span::styled(
                job_status(job.status),
                status_style(job.status),
            )),
            Cell::from(job.node_id.map(|n| format!("n{n}")).unwrap_or_default()),
            Cell::from(progress),
            Cell::from(eta),
        ])
    });
    let header =
        Row::new(["Job", "Kind", "Status", "Node", "Progress", "ETA"]).style(palette::header());
    let widths = [
        Constraint::Length(FIXED[0]),
        Constraint::Length(FIXED[1]),
        Constraint::Length(FIXED[2]),
        Constraint::Length(FIXED[3]),
        Constraint::Fill(1),
        Constraint::Length(FIXED[4]),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(palette::selected());
    let mut state = TableState::new().with_selected(Some(app.selected(View::Jobs)));
    frame.render_stateful_widget(table, area, &mut state);
}

fn draw_detail(frame: &mut Frame, app: &App, area: Rect) {
    let block = Block::bordered().title(Span::styled(" Selected job ", palette::accent()));
    let Some(job) = app.selected_job() else {
        frame.render_widget(
            Paragraph::new(Span::styled("no job selected", palette::muted())).block(block),
            area,
        );
        return;
    };
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [text, chart] = Layout::vertical([Constraint::Length(3), Constraint::Min(1)]).areas(inner);
    let label = |t: &str| Span::styled(t.to_owned(), palette::muted());
    let mut lines = vec![
        Line::from(vec![
            Span::raw(job.id.clone()),
            label("  attempts "),
            Span::raw(job.attempts.to_string()),
            label("  priority "),
            Span::raw(job.priority.to_string()),
        ]),
        Line::from(vec![
            label("dataset "),
            Span::raw(or_dash(&job.dataset_id)),
            label("  model "),
            Span::raw(or_dash(&job.model_id)),
        ]),
    ];
    lines.push(match (&job.error, &job.checkpoint) {
        (Some(error), _) => Line::from(vec![
            label("error "),
            Span::styled(error.clone(), palette::bad()),
        ]),
        (None, Some(checkpoint)) => {
            Line::from(vec![label("checkpoint "), Span::raw(checkpoint.clone())])
        }
        (None, None) => Line::from(label("no checkpoint yet")),
    });
    frame.render_widget(Paragraph::new(lines), text);
    match app.primary_loss(&job.id) {
        Some((name, values)) if !values.is_empty() => {
            let [caption, spark] =
                Layout::horizontal([Constraint::Length(22), Constraint::Min(4)]).areas(chart);
            let last = values.last().copied().unwrap_or_default();
            frame.render_widget(
                Paragraph::new(vec![
                    Line::from(Span::styled(name.to_owned(), palette::accent())),
                    Line::from(vec![label("last "), Span::raw(format!("{last:.4}"))]),
                    Line::from(label(&format!("{} steps", values.len()))),
                ]),
                caption,
            );
            // Newest values on the right, as many as fit.
            let width = usize::from(spark.width);
            let shown = &values[values.len().saturating_sub(width)..];
            frame.render_widget(
                Sparkline::default()
                    .data(scaled(shown))
                    .style(palette::accent()),
                spark,
            );
        }
        _ => frame.render_widget(
            Paragraph::new(label(
                "no losses reported yet (training jobs report them while running)",
            )),
            chart,
        ),
    }
}

/// Losses mapped to 1–100 between their minimum and maximum, for the sparkline.
fn scaled(values: &[f64]) -> Vec<u64> {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let min = finite.clone().fold(f64::INFINITY, f64::min);
    let max = finite.fold(f64::NEG_INFINITY, f64::max);
    let span = max - min;
    values
        .iter()
        .map(|v| {
            if !v.is_finite() {
                0
            } else if span <= f64::EPSILON {
                50
            } else {
                (1.0 + 99.0 * (v - min) / span).round() as u64
            }
        })
        .collect()
}

fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".into()
    } else {
        text.to_owned()
    }
}
