//! The generations view: generations (from their jobs) with headline scores and the gate;
//! the selected one's report below: gate verdict and reasons, per-column score bars.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::jobs::status_style;
use super::palette;
use crate::app::App;
use crate::format::{bar, job_status, short_id};
use crate::snapshot::GenerationView;
use crate::view::View;

/// Draws the generations view in `area`.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let list_height = (area.height / 3).max(6);
    let [list, detail] =
        Layout::vertical([Constraint::Length(list_height), Constraint::Min(5)]).areas(area);
    let generations = app.visible_generations();
    let block = Block::bordered().title(Span::styled(
        format!(" Generations ({}) ", generations.len()),
        palette::accent(),
    ));
    if generations.is_empty() {
        frame.render_widget(super::empty(app, "generations").block(block), list);
    } else {
        let rows = generations.iter().map(|g| {
            let id = if g.generation_id.is_empty() {
                short_id(&g.job.id)
            } else {
                short_id(&g.generation_id)
            };
            let rows = g
                .generation
                .as_ref()
                .map_or_else(String::new, |gen_| gen_.rows.to_string());
            let (overall, gate) = match &g.report {
                Some(r) => (
                    format!("{:.3}", r.summary.overall),
                    if r.summary.gate_passed {
                        Span::styled("passed", palette::good())
                    } else {
                        Span::styled("FAILED", palette::bad())
                    },
                ),
                None => (String::new(), Span::styled("pending", palette::muted())),
            };
            Row::new(vec![
                Cell::from(id),
                Cell::from(short_id(&g.job.model_id)),
                Cell::from(Span::styled(
                    job_status(g.job.status),
                    status_style(g.job.status),
                )),
                Cell::from(rows),
                Cell::from(overall),
                Cell::from(gate),
            ])
        });
        let table = Table::new(
            rows,
            [
                Constraint::Length(12),
                Constraint::Length(12),
                Constraint::Length(9),
                Constraint::Length(8),
                Constraint::Length(7),
                Constraint::Fill(1),
            ],
        )
        .header(
            Row::new(["Generation", "Model", "Job", "Rows", "Overall", "Gate"])
                .style(palette::header()),
        )
        .block(block)
        .row_highlight_style(palette::selected());
        let mut state = TableState::new().with_selected(Some(app.selected(View::Generations)));
        frame.render_stateful_widget(table, list, &mut state);
    }
    let selected = generations.get(app.selected(View::Generations)).copied();
    draw_report(frame, selected, detail);
}

fn draw_report(frame: &mut Frame, view: Option<&GenerationView>, area: Rect) {
    let block = Block::bordered().title(Span::styled(" Quality report ", palette::accent()));
    let label = |t: &str| Span::styled(t.to_owned(), palette::muted());
    let Some(view) = view else {
        frame.render_widget(
            Paragraph::new(label("no generation selected")).block(block),
            area,
        );
        return;
    };
    let Some(report) = &view.report else {
        let text = match &view.job.error {
            Some(error) => Line::from(vec![
                label("generation failed: "),
                Span::styled(error.clone(), palette::bad()),
            ]),
            None => Line::from(label(
                "no report yet: the assessment runs after the rows are written",
            )),
        };
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    };
    let summary = &report.summary;
    let mut lines = vec![Line::from(vec![
        label("overall "),
        Span::raw(format!("{:.3}", summary.overall)),
        label("  column shapes "),
        Span::raw(format!("{:.3}", summary.column_shapes)),
        label("  pair trends "),
        Span::raw(format!("{:.3}", summary.column_pair_trends)),
    ])];
    if summary.gate_passed {
        lines.push(Line::from(vec![
            label("gate "),
            Span::styled("PASSED", palette::good()),
        ]));
    } else {
        let released = view.generation.as_ref().is_some_and(|g| g.released);
        let mut spans = vec![label("gate "), Span::styled("FAILED", palette::bad())];
        if released {
            spans.push(label(" (rows released by an admin)"));
        }
        lines.push(Line::from(spans));
        for reason in &report.gate_reasons {
            lines.push(Line::from(vec![
                Span::raw("  • "),
                Span::styled(reason.clone(), palette::bad()),
            ]));
        }
    }
    let inner_width = usize::from(area.width.saturating_sub(2));
    let name_width = report
        .column_scores
        .iter()
        .map(|s| s.column.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(6, 24);
    let bar_width = inner_width.saturating_sub(name_width + 14 + 8).clamp(5, 60);
    for score in &report.column_scores {
        let style = if score.score >= 0.8 {
            palette::good()
        } else if score.score >= 0.6 {
            palette::warn()
        } else {
            palette::bad()
        };
        let name: String = score.column.chars().take(name_width).collect();
        lines.push(Line::from(vec![
            Span::raw(format!("{name:<name_width$} ")),
            Span::styled(format!("{:<13} ", score.metric), palette::muted()),
            Span::styled(bar(score.score, bar_width), style),
            Span::raw(format!(" {:.3}", score.score)),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
