//! The cluster view: Raft state and job counts on top, one row per member below.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

use super::palette;
use crate::app::App;
use crate::format::{bytes, node_role};
use crate::view::View;

/// Draws the cluster view in `area`.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let [summary, members] =
        Layout::vertical([Constraint::Length(4), Constraint::Min(3)]).areas(area);
    frame.render_widget(summary_paragraph(app), summary);
    let block = Block::bordered().title(Span::styled(" Nodes ", palette::accent()));
    let nodes = app.visible_nodes();
    if nodes.is_empty() {
        frame.render_widget(super::empty(app, "nodes").block(block), members);
        return;
    }
    let wide = area.width >= 100;
    let rows = nodes.iter().map(|node| {
        let role = node_role(node.role);
        let role_style = if role == "leader" {
            palette::accent()
        } else {
            ratatui::style::Style::new()
        };
        let (health, health_style) = if node.alive {
            ("alive", palette::good())
        } else {
            ("down", palette::bad())
        };
        let gpus = if node.gpus.is_empty() {
            "-".to_owned()
        } else if wide {
            let memory: u64 = node.gpus.iter().map(|g| g.memory_bytes).sum();
            format!("{} ({})", node.gpus.len(), bytes(memory))
        } else {
            node.gpus.len().to_string()
        };
        let jobs = if wide && !node.running_jobs.is_empty() {
            format!(
                "{} ({})",
                node.running_jobs.len(),
                node.running_jobs.join(", ")
            )
        } else {
            node.running_jobs.len().to_string()
        };
        Row::new(vec![
            Cell::from(format!("node {}", node.id)),
            Cell::from(node.address.clone()),
            Cell::from(Span::styled(role, role_style)),
            Cell::from(Span::styled(health, health_style)),
            Cell::from(node.cpu_cores.to_string()),
            Cell::from(bytes(node.memory_bytes)),
            Cell::from(gpus),
            Cell::from(jobs),
        ])
    });
    let header = Row::new([
        "Node", "Address", "Role", "Health", "CPU", "Memory", "GPU", "Jobs",
    ])
    .style(palette::header());
    let widths = [
        Constraint::Length(7),
        Constraint::Length(if wide { 22 } else { 15 }),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(3),
        Constraint::Length(9),
        Constraint::Length(if wide { 14 } else { 3 }),
        Constraint::Fill(1),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(palette::selected());
    let mut state = TableState::new().with_selected(Some(app.selected(View::Cluster)));
    frame.render_stateful_widget(table, members, &mut state);
}

fn summary_paragraph(app: &App) -> Paragraph<'static> {
    let Some(status) = &app.snapshot.status else {
        return super::empty(app, "cluster status");
    };
    let leader = match status.leader_id {
        Some(id) => Span::styled(format!("node {id}"), palette::accent()),
        None => Span::styled("none (election)", palette::bad()),
    };
    let ledgers = if status.ledgers_verified {
        Span::styled(format!("{} verified", status.ledgers), palette::good())
    } else {
        Span::styled(format!("{} NOT verified", status.ledgers), palette::bad())
    };
    let label = |text: &str| Span::styled(text.to_owned(), palette::muted());
    Paragraph::new(vec![
        Line::from(vec![
            label("leader "),
            leader,
            label("  term "),
            Span::raw(status.term.to_string()),
            label("  commit "),
            Span::raw(status.commit_index.to_string()),
            label("  applied "),
            Span::raw(status.last_applied.to_string()),
        ]),
        Line::from(vec![
            label("answered by "),
            Span::raw(format!(
                "node {} ({})",
                status.answered_by, app.snapshot.address
            )),
            label("  snapshot "),
            Span::raw(status.snapshot_index.to_string()),
        ]),
        Line::from(vec![
            label("jobs "),
            Span::styled(
                format!("{} running", status.jobs_running),
                palette::accent(),
            ),
            Span::raw(" · "),
            Span::styled(format!("{} queued", status.jobs_queued), palette::warn()),
            Span::raw(" · "),
            Span::styled(format!("{} ok", status.jobs_succeeded), palette::good()),
            Span::raw(" · "),
            Span::styled(format!("{} failed", status.jobs_failed), palette::bad()),
            Span::raw(format!(" · {} cancelled", status.jobs_cancelled)),
        ]),
        Line::from(vec![label("privacy ledgers "), ledgers]),
    ])
}
