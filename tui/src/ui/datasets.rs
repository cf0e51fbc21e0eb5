//! The datasets view: datasets on the left; the selected one's privacy budget as gauges
//! (ε spent, reserved, remaining) and its ledger on the right.

use mirage_proto::v1::{self, LedgerEventKind};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

use super::palette;
use crate::app::App;
use crate::format::{bar, clock, short_id};
use crate::snapshot::DatasetView;
use crate::view::View;

/// Draws the datasets view in `area`.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let left_width = if area.width >= 120 { 44 } else { 30 };
    let [list, right] =
        Layout::horizontal([Constraint::Length(left_width), Constraint::Min(20)]).areas(area);
    let datasets = app.visible_datasets();
    let block = Block::bordered().title(Span::styled(
        format!(" Datasets ({}) ", datasets.len()),
        palette::accent(),
    ));
    if datasets.is_empty() {
        frame.render_widget(super::empty(app, "datasets").block(block), list);
    } else {
        let rows = datasets.iter().map(|d| {
            let name = if d.dataset.name.is_empty() {
                short_id(&d.dataset.id)
            } else {
                d.dataset.name.clone()
            };
            let left = d
                .budget
                .as_ref()
                .map_or_else(|| "-".to_owned(), |b| format!("{:.2}", b.epsilon_remaining));
            Row::new(vec![
                Cell::from(name),
                Cell::from(d.dataset.rows.to_string()),
                Cell::from(left),
            ])
        });
        let table = Table::new(
            rows,
            [
                Constraint::Fill(1),
                Constraint::Length(8),
                Constraint::Length(6),
            ],
        )
        .header(Row::new(["Name", "Rows", "ε left"]).style(palette::header()))
        .block(block)
        .row_highlight_style(palette::selected());
        let mut state = TableState::new().with_selected(Some(app.selected(View::Datasets)));
        frame.render_stateful_widget(table, list, &mut state);
    }
    let selected = datasets.get(app.selected(View::Datasets)).copied();
    draw_budget(frame, app, selected, right);
}

fn draw_budget(frame: &mut Frame, app: &App, view: Option<&DatasetView>, area: Rect) {
    let [gauges, ledger] =
        Layout::vertical([Constraint::Length(6), Constraint::Min(3)]).areas(area);
    let title = view.map_or_else(
        || " Privacy budget ".to_owned(),
        |v| format!(" Privacy budget: {} ", short_id(&v.dataset.id)),
    );
    let block = Block::bordered().title(Span::styled(title, palette::accent()));
    let Some(view) = view else {
        frame.render_widget(super::empty(app, "dataset selected").block(block), gauges);
        frame.render_widget(Block::bordered().title(" Ledger "), ledger);
        return;
    };
    let Some(budget) = &view.budget else {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "no privacy budget: training on it is not private",
                palette::muted(),
            ))
            .block(block),
            gauges,
        );
        frame.render_widget(Block::bordered().title(" Ledger "), ledger);
        return;
    };
    let inner = block.inner(gauges);
    frame.render_widget(block, gauges);
    let [header, spent, reserved, remaining] =
        Layout::vertical([Constraint::Length(1); 4]).areas(inner);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("limit ", palette::muted()),
            Span::raw(format!("ε {:.2}", budget.epsilon_limit)),
            Span::styled("  δ ", palette::muted()),
            Span::raw(format!("{:.0e}", budget.delta)),
        ])),
        header,
    );
    let limit = budget.epsilon_limit;
    let ratio = |value: f64| {
        if limit > 0.0 {
            (value / limit).clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    // Text gauges (label, value, bar) rather than ratatui's `Gauge`, whose centred label
    // covers the bar on narrow screens.
    let bar_width = usize::from(inner.width.saturating_sub(24)).max(4);
    let gauge = |name: &str, value: f64, style: Style| {
        Paragraph::new(Line::from(vec![
            Span::styled(format!("{name:<9}"), palette::muted()),
            Span::raw(format!(" {value:>5.2} / {limit:<5.2} ")),
            Span::styled(bar(ratio(value), bar_width), style),
        ]))
    };
    frame.render_widget(gauge("spent", budget.epsilon_spent, palette::bad()), spent);
    frame.render_widget(
        gauge("reserved", budget.epsilon_reserved, palette::warn()),
        reserved,
    );
    frame.render_widget(
        gauge("remaining", budget.epsilon_remaining, palette::good()),
        remaining,
    );
    draw_ledger(frame, &view.ledger, ledger);
}

fn draw_ledger(frame: &mut Frame, events: &[v1::LedgerEvent], area: Rect) {
    let block = Block::bordered().title(Span::styled(
        format!(" Ledger ({} latest) ", events.len()),
        palette::accent(),
    ));
    let rows = events.iter().rev().map(|event| {
        let (kind, style) = match LedgerEventKind::try_from(event.kind) {
            Ok(LedgerEventKind::Reserve) => ("reserve", palette::warn()),
            Ok(LedgerEventKind::Commit) => ("commit", palette::bad()),
            Ok(LedgerEventKind::Release) => ("release", palette::good()),
            Ok(LedgerEventKind::SetBudget) => ("set", palette::accent()),
            _ => ("?", palette::muted()),
        };
        Row::new(vec![
            Cell::from(event.sequence.to_string()),
            Cell::from(clock(event.at_ms)),
            Cell::from(Span::styled(kind, style)),
            Cell::from(format!("{:.3}", event.epsilon)),
            Cell::from(if event.job_id.is_empty() {
                "-".to_owned()
            } else {
                short_id(&event.job_id)
            }),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(4),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(["#", "Time", "Event", "ε", "Job"]).style(palette::header()))
    .block(block);
    frame.render_widget(table, area);
}
