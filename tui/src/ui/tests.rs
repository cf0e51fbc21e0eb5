//! Every view rendered to a `TestBackend` at 80×24 and at 140×40, asserting on the text.

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::app::App;
use crate::event::Action;
use crate::fixtures::{self, RUNNING};
use crate::snapshot::Update;
use crate::view::View;

const SIZES: [(u16, u16); 2] = [(80, 24), (140, 40)];

/// The screen as lines of text.
pub fn render(app: &App, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal
        .draw(|frame| super::draw(frame, app))
        .expect("draw");
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
        })
        .collect()
}

fn app_on(view: View) -> App {
    let mut app = App::new();
    app.apply(Update::Snapshot(Box::new(fixtures::snapshot())));
    let mut next = fixtures::snapshot();
    next.taken_at_ms += 1000;
    next.progress = (0..40)
        .map(|step| fixtures::progress(RUNNING, step, 2.0 / (1.0 + step as f64)))
        .collect();
    app.apply(Update::Snapshot(Box::new(next)));
    app.handle(Action::Show(view));
    app
}

fn contains(screen: &[String], text: &str) -> bool {
    screen.iter().any(|line| line.contains(text))
}

fn assert_shows(screen: &[String], texts: &[&str]) {
    for text in texts {
        assert!(
            contains(screen, text),
            "{text:?} not on screen:\n{}",
            screen.join("\n")
        );
    }
}

#[test]
fn the_cluster_view_shows_nodes_roles_and_raft_indices() {
    for (width, height) in SIZES {
        let screen = render(&app_on(View::Cluster), width, height);
        assert_shows(
            &screen,
            &[
                "1 Cluster",
                "leader node 1",
                "term 4",
                "commit 120",
                "applied 119",
            ],
        );
        let row = |id: &str| {
            screen
                .iter()
                .find(|l| l.contains(&format!("node {id}  ")) && l.contains("127.0.0.1"))
                .cloned()
                .unwrap_or_default()
        };
        assert!(
            row("1").contains("leader") && row("1").contains("alive"),
            "{}",
            row("1")
        );
        assert!(row("2").contains("follower"), "{}", row("2"));
        assert!(row("3").contains("down"), "{}", row("3"));
        assert!(row("1").contains("16.0 GiB"), "{}", row("1"));
    }
    // Wide screens name the running jobs.
    let screen = render(&app_on(View::Cluster), 140, 40);
    assert_shows(&screen, &[RUNNING, "80.0 GiB"]);
}

#[test]
fn the_jobs_view_shows_progress_bars_and_the_loss_sparkline() {
    for (width, height) in SIZES {
        let screen = render(&app_on(View::Jobs), width, height);
        assert_shows(
            &screen,
            &["job_aaaa1111", "running", "queued", "failed", "n2", " 50%"],
        );
        let row = screen
            .iter()
            .find(|l| l.contains("job_aaaa1111"))
            .expect("running row");
        let filled = row.matches('█').count();
        let empty = row.matches('░').count();
        assert!(filled > 0 && filled == empty, "half full: {row}");
        // The selected (running) job's loss: the newest value and a sparkline.
        assert_shows(&screen, &["loss", "last 0.0500", "40 steps"]);
        assert!(
            screen
                .iter()
                .any(|l| l.contains('▁') || l.contains('█') && l.contains('│')),
            "{}",
            screen.join("\n")
        );
    }
}

#[test]
fn the_datasets_view_shows_budget_gauges_and_the_ledger() {
    for (width, height) in SIZES {
        let screen = render(&app_on(View::Datasets), width, height);
        assert_shows(
            &screen,
            &[
                "adult",
                "32561",
                "spent      1.00 / 4.00",
                "reserved   0.50 / 4.00",
                "remaining  2.50 / 4.00",
                "reserve",
                "job_aaaa1111",
            ],
        );
        // The spent gauge is a quarter full, the remaining one more than half.
        let fill = |label: &str| {
            let line = screen
                .iter()
                .find(|l| l.contains(label))
                .cloned()
                .unwrap_or_default();
            let filled = line.matches('█').count() as f64;
            filled / (filled + line.matches('░').count() as f64)
        };
        assert!((fill("spent ") - 0.25).abs() < 0.05, "{}", fill("spent "));
        assert!(
            (fill("remaining") - 0.625).abs() < 0.05,
            "{}",
            fill("remaining")
        );
    }
}

#[test]
fn the_generations_view_shows_the_gate_its_reasons_and_column_bars() {
    for (width, height) in SIZES {
        let screen = render(&app_on(View::Generations), width, height);
        assert_shows(
            &screen,
            &[
                "gen_feed0000",
                "FAILED",
                "overall 0.710",
                "overall 0.710 is below 0.800",
                "ks_complement",
                "0.900",
                "0.500",
            ],
        );
        let age = screen
            .iter()
            .find(|l| l.contains("ks_complement"))
            .expect("age row");
        let income = screen
            .iter()
            .find(|l| l.contains("tv_complement"))
            .expect("income row");
        assert!(age.matches('█').count() > income.matches('█').count());
    }
}

#[test]
fn the_events_view_shows_the_log_and_filters_it() {
    let mut app = app_on(View::Events);
    app.apply(Update::Connection(
        "node 2 unreachable, now connected to node 3".into(),
    ));
    for (width, height) in SIZES {
        let screen = render(&app, width, height);
        assert_shows(
            &screen,
            &[
                "connected to node 1",
                "node 2 unreachable, now connected to node 3",
            ],
        );
    }
    app.handle(Action::StartFilter);
    for c in "unreach".chars() {
        app.handle(Action::FilterInput(c));
    }
    let screen = render(&app, 80, 24);
    assert!(!contains(&screen, "connected to node 1 at"));
    assert_shows(&screen, &["/unreach", "Events (1 of 2)"]);
}

#[test]
fn help_and_dialogs_overlay_the_view() {
    let mut app = app_on(View::Jobs);
    app.handle(Action::Help);
    assert_shows(&render(&app, 80, 24), &["Keys", "cancel the selected job"]);
    app.handle(Action::Dismiss);
    app.handle(Action::CancelJob);
    for (width, height) in SIZES {
        assert_shows(
            &render(&app, width, height),
            &["Cancel job job_aaaa1111", "Enter: yes"],
        );
    }
}

#[test]
fn before_the_first_answer_the_views_say_they_wait() {
    let app = App::new();
    for view in View::ALL {
        let mut app = app.clone();
        app.handle(Action::Show(view));
        let screen = render(&app, 80, 24);
        assert_shows(&screen, &["waiting for the first answer"]);
    }
}

/// Prints the screens for the README: `cargo test -p mirage-tui print_screens -- --ignored
/// --nocapture`.
#[test]
#[ignore = "prints the README's screen captures"]
fn print_screens() {
    for view in View::ALL {
        println!("{}\n", render(&app_on(view), 80, 24).join("\n"));
    }
}
