//! Drawing: the tab bar, the current view (one file each), the filter and status lines, and
//! the help and confirmation overlays. Reads the [`App`], never changes it.

mod cluster;
mod datasets;
mod dialog;
mod events;
mod generations;
mod help;
mod jobs;
pub mod palette;

#[cfg(test)]
mod tests;

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Tabs};

use crate::app::{App, Mode};
use crate::view::View;

/// Draws the whole console.
pub fn draw(frame: &mut Frame, app: &App) {
    let [tabs, body, filter, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_tabs(frame, app, tabs);
    match app.view {
        View::Cluster => cluster::draw(frame, app, body),
        View::Jobs => jobs::draw(frame, app, body),
        View::Datasets => datasets::draw(frame, app, body),
        View::Generations => generations::draw(frame, app, body),
        View::Events => events::draw(frame, app, body),
    }
    draw_filter(frame, app, filter);
    draw_status(frame, app, status);
    match &app.mode {
        Mode::Help => help::draw(frame, frame.area()),
        Mode::Confirm(dialog) => dialog::draw(frame, dialog, frame.area()),
        Mode::Normal | Mode::Filter => {}
    }
}

fn draw_tabs(frame: &mut Frame, app: &App, area: Rect) {
    let titles = View::ALL
        .iter()
        .enumerate()
        .map(|(i, view)| Line::from(format!("{} {}", i + 1, view.title())));
    let tabs = Tabs::new(titles)
        .select(app.view.index())
        .style(palette::muted())
        .highlight_style(palette::accent().add_modifier(ratatui::style::Modifier::REVERSED))
        .divider(" ")
        .padding("", "");
    frame.render_widget(tabs, area);
}

fn draw_filter(frame: &mut Frame, app: &App, area: Rect) {
    let filter = app.filter();
    let line = match app.mode {
        Mode::Filter => Line::from(vec![
            Span::styled("/", palette::accent()),
            Span::raw(filter.to_owned()),
            Span::styled("▏", palette::accent()),
            Span::styled("  Enter keeps · Esc clears", palette::muted()),
        ]),
        _ if !filter.is_empty() => Line::from(vec![
            Span::styled("filter: ", palette::muted()),
            Span::styled(filter.to_owned(), palette::warn()),
            Span::styled("  (/ edits · Esc clears)", palette::muted()),
        ]),
        _ => Line::from(Span::styled(
            "Tab/1-5 views · ↑↓ select · / filter · c cancel · r retry · ? help · q quit",
            palette::muted(),
        )),
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn draw_status(frame: &mut Frame, app: &App, area: Rect) {
    let (mark, style) = if app.connected {
        ("●", palette::good())
    } else {
        ("○", palette::bad())
    };
    let line = Line::from(vec![
        Span::styled(mark, style),
        Span::raw(" "),
        Span::raw(app.status_line.clone()),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

/// A `width`×`height` rectangle centred in `area` (clipped to it).
pub(crate) fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

/// A line telling that no data arrived yet, or that a list is empty.
pub(crate) fn empty(app: &App, what: &str) -> Paragraph<'static> {
    let text = if app.has_data {
        if app.filter().is_empty() {
            format!("no {what}")
        } else {
            format!("no {what} match the filter {:?}", app.filter())
        }
    } else {
        "waiting for the first answer from the cluster…".to_owned()
    };
    Paragraph::new(Line::from(Span::styled(text, palette::muted())))
}
