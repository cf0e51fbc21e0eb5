//! The events view: the log derived from successive polls, newest at the bottom, filtered.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState};

use super::palette;
use crate::app::App;
use crate::changes::EventKind;
use crate::format::clock;
use crate::view::View;

/// Draws the events view in `area`.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let events = app.visible_events();
    let block = Block::bordered().title(Span::styled(
        format!(" Events ({} of {}) ", events.len(), app.log.len()),
        palette::accent(),
    ));
    if events.is_empty() {
        frame.render_widget(super::empty(app, "events").block(block), area);
        return;
    }
    let items = events.iter().map(|event| {
        let style = match event.kind {
            EventKind::Problem => palette::bad(),
            EventKind::Cluster => palette::accent(),
            EventKind::Budget => palette::warn(),
            EventKind::Checkpoint | EventKind::Command => palette::good(),
            EventKind::Job | EventKind::Connection => ratatui::style::Style::new(),
        };
        ListItem::new(Line::from(vec![
            Span::styled(format!("{} ", clock(event.at_ms)), palette::muted()),
            Span::styled(format!("{:<7} ", event.kind.tag()), style),
            Span::raw(event.text.clone()),
        ]))
    });
    // Follow the tail unless the operator moved up.
    let selected = app.selected(View::Events);
    let list = List::new(items)
        .block(block)
        .highlight_style(palette::selected());
    let mut state = ListState::default().with_selected(Some(selected));
    frame.render_stateful_widget(list, area, &mut state);
}
