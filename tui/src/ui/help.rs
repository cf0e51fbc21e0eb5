//! The keyboard help overlay.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::palette;

const KEYS: [(&str, &str); 12] = [
    ("Tab / Shift-Tab", "next / previous view"),
    ("1 … 5", "cluster, jobs, datasets, generations, events"),
    ("↑ ↓  j k", "select a row"),
    ("PgUp PgDn g G", "page, first, last row"),
    ("/", "filter the list (Enter keeps, Esc clears)"),
    ("Esc", "clear the filter"),
    ("c", "cancel the selected job (jobs view)"),
    ("r", "retry a failed training job (jobs view)"),
    ("← →", "in the retry dialog: choose the model"),
    ("y / n", "confirm / dismiss a dialog"),
    ("?", "this help"),
    ("q  Ctrl-C", "quit"),
];

/// Draws the help over `area`.
pub fn draw(frame: &mut Frame, area: Rect) {
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!("{key:<15} "), palette::accent()),
                Span::raw(*what),
            ])
        })
        .collect();
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let rect = super::centered(area, 66, height);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(Span::styled(" Keys (Esc closes) ", palette::accent()))),
        rect,
    );
}
