//! Keys to actions: a pure mapping that depends only on the key and the input mode.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::view::View;

/// What the keyboard currently drives (see [`crate::app::Mode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// Views and selection.
    Normal,
    /// Typing a filter.
    Filter,
    /// The help overlay.
    Help,
    /// A confirmation dialog.
    Dialog,
}

/// What a key asks the app to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave the console.
    Quit,
    /// The next tab.
    NextView,
    /// The previous tab.
    PreviousView,
    /// A given tab.
    Show(View),
    /// Selection up one row.
    Up,
    /// Selection down one row.
    Down,
    /// Selection up a page.
    PageUp,
    /// Selection down a page.
    PageDown,
    /// The first row.
    Top,
    /// The last row.
    Bottom,
    /// Show the help overlay.
    Help,
    /// Start typing a filter.
    StartFilter,
    /// A character of the filter.
    FilterInput(char),
    /// Delete the filter's last character.
    FilterBackspace,
    /// Keep the filter and go back to the view.
    FilterAccept,
    /// Clear the filter.
    FilterClear,
    /// Ask to cancel the selected job.
    CancelJob,
    /// Ask to retry the selected failed training job.
    RetryJob,
    /// The dialog's choice to the left.
    ChoiceLeft,
    /// The dialog's choice to the right.
    ChoiceRight,
    /// Yes.
    Confirm,
    /// No, or close the overlay.
    Dismiss,
}

/// The action of `key` in `mode`; `None` for keys that do nothing there.
pub fn action(key: KeyEvent, mode: InputMode) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    match mode {
        InputMode::Normal => normal(key.code),
        InputMode::Filter => match key.code {
            KeyCode::Enter => Some(Action::FilterAccept),
            KeyCode::Esc => Some(Action::FilterClear),
            KeyCode::Backspace => Some(Action::FilterBackspace),
            KeyCode::Char(c) => Some(Action::FilterInput(c)),
            _ => None,
        },
        InputMode::Help => match key.code {
            KeyCode::Char('q') => Some(Action::Quit),
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('?') => Some(Action::Dismiss),
            _ => None,
        },
        InputMode::Dialog => match key.code {
            KeyCode::Char('y' | 'Y') | KeyCode::Enter => Some(Action::Confirm),
            KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => Some(Action::Dismiss),
            KeyCode::Left | KeyCode::Char('h') => Some(Action::ChoiceLeft),
            KeyCode::Right | KeyCode::Char('l') | KeyCode::Tab => Some(Action::ChoiceRight),
            _ => None,
        },
    }
}

fn normal(code: KeyCode) -> Option<Action> {
    Some(match code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Tab | KeyCode::Right => Action::NextView,
        KeyCode::BackTab | KeyCode::Left => Action::PreviousView,
        KeyCode::Char(c @ '1'..='5') => Action::Show(View::at(usize::from(c as u8 - b'1'))),
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char('/') => Action::StartFilter,
        KeyCode::Esc => Action::FilterClear,
        KeyCode::Char('c') => Action::CancelJob,
        KeyCode::Char('r') => Action::RetryJob,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn keys_map_by_mode() {
        assert_eq!(
            action(key(KeyCode::Char('q')), InputMode::Normal),
            Some(Action::Quit)
        );
        assert_eq!(
            action(key(KeyCode::Char('3')), InputMode::Normal),
            Some(Action::Show(View::Datasets))
        );
        assert_eq!(
            action(key(KeyCode::BackTab), InputMode::Normal),
            Some(Action::PreviousView)
        );
        // In a filter, letters are text, not commands.
        assert_eq!(
            action(key(KeyCode::Char('q')), InputMode::Filter),
            Some(Action::FilterInput('q'))
        );
        assert_eq!(
            action(key(KeyCode::Char('y')), InputMode::Dialog),
            Some(Action::Confirm)
        );
        assert_eq!(
            action(key(KeyCode::Esc), InputMode::Dialog),
            Some(Action::Dismiss)
        );
        assert_eq!(action(key(KeyCode::Char('x')), InputMode::Help), None);
        let interrupt = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action(interrupt, InputMode::Filter), Some(Action::Quit));
    }
}
