//! Stage progress: a spinner or bar per stage on a terminal, one plain line per stage
//! otherwise (logs, CI, pipes).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Receives the pipeline's stage events.
pub trait StageReporter: Send {
    /// A stage begins; `total` is its number of steps when known.
    fn start(&mut self, stage: &str, total: Option<u64>);
    /// The current stage advanced to `done` steps.
    fn progress(&mut self, done: u64);
    /// The current stage ended.
    fn finish(&mut self, stage: &str, elapsed: Duration, detail: &str);
}

/// Chooses bars on a terminal and plain lines elsewhere.
pub fn reporter() -> Box<dyn StageReporter> {
    if std::io::stderr().is_terminal() {
        Box::new(BarReporter { bar: None })
    } else {
        Box::new(LineReporter {
            started: Instant::now(),
        })
    }
}

/// One indicatif bar per stage.
struct BarReporter {
    bar: Option<ProgressBar>,
}

impl StageReporter for BarReporter {
    fn start(&mut self, stage: &str, total: Option<u64>) {
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{spinner:.cyan} {prefix:>8} [{bar:30.cyan/blue}] {pos}/{len} {elapsed}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner:.cyan} {prefix:>8} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_prefix(stage.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        self.bar = Some(bar);
    }

    fn progress(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    fn finish(&mut self, stage: &str, elapsed: Duration, detail: &str) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        eprintln!("  ✓ {stage:>8}  {:>7.2} s  {detail}", elapsed.as_secs_f64());
    }
}

/// Plain lines with a timestamp relative to the start.
struct LineReporter {
    started: Instant,
}

impl StageReporter for LineReporter {
    fn start(&mut self, stage: &str, _total: Option<u64>) {
        eprintln!(
            "[{:>7.2}s] {stage}: started",
            self.started.elapsed().as_secs_f64()
        );
    }

    fn progress(&mut self, _done: u64) {}

    fn finish(&mut self, stage: &str, elapsed: Duration, detail: &str) {
        eprintln!(
            "[{:>7.2}s] {stage}: done in {:.2} s ({detail})",
            self.started.elapsed().as_secs_f64(),
            elapsed.as_secs_f64()
        );
    }
}

/// Discards events (tests, `--quiet`).
#[derive(Debug, Default)]
pub struct SilentReporter;

impl StageReporter for SilentReporter {
    fn start(&mut self, _stage: &str, _total: Option<u64>) {}
    fn progress(&mut self, _done: u64) {}
    fn finish(&mut self, _stage: &str, _elapsed: Duration, _detail: &str) {}
}
