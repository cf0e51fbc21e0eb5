//! The confirmation dialog overlay.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::palette;
use crate::dialog::{Dialog, RETRY_KINDS, model_kind_name};

/// Draws `dialog` centred over `area`.
pub fn draw(frame: &mut Frame, dialog: &Dialog, area: Rect) {
    let mut lines = vec![
        Line::from(Span::styled(dialog.question(), palette::accent())),
        Line::from(""),
    ];
    if let Some(chosen) = dialog.model_kind() {
        let mut spans = vec![Span::styled("model: ", palette::muted())];
        for kind in RETRY_KINDS {
            let name = model_kind_name(kind);
            if kind == chosen {
                spans.push(Span::styled(format!("[{name}]"), palette::selected()));
            } else {
                spans.push(Span::raw(format!(" {name} ")));
            }
        }
        lines.push(Line::from(spans));
        lines.push(Line::from(Span::styled(
            "← → choose the model (the job record does not keep it)",
            palette::muted(),
        )));
        lines.push(Line::from(""));
    }
    lines.push(Line::from(vec![
        Span::styled("y", palette::good()),
        Span::raw(" / Enter: yes   "),
        Span::styled("n", palette::bad()),
        Span::raw(" / Esc: no"),
    ]));
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(4);
    let rect = super::centered(area, 76, height);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(Span::styled(" Confirm ", palette::warn()))),
        rect,
    );
}
