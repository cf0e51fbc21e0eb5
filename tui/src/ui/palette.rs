//! The few styles the console uses. Foreground colours and modifiers only, never a
//! background, so the console reads on dark and light terminals alike.

use ratatui::style::{Color, Modifier, Style};

/// Headings, the selected tab, the leader.
pub fn accent() -> Style {
    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
}

/// Healthy, succeeded, passed.
pub fn good() -> Style {
    Style::new().fg(Color::Green)
}

/// Down, failed, refused.
pub fn bad() -> Style {
    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
}

/// Queued, reserved, waiting.
pub fn warn() -> Style {
    Style::new().fg(Color::Yellow)
}

/// Secondary text.
pub fn muted() -> Style {
    Style::new().add_modifier(Modifier::DIM)
}

/// Column headers.
pub fn header() -> Style {
    Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
}

/// The selected row: reversed, so it works with any terminal colours.
pub fn selected() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}
