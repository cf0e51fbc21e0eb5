//! Turns epoch timings into progress events with throughput and an ETA.

use std::time::Instant;

use crate::progress::{FitContext, ProgressEvent};

/// Measures epochs and reports them as [`ProgressEvent`]s with stage `epoch`.
#[derive(Debug)]
pub struct ProgressTracker {
    started: Instant,
    /// Seconds spent before this run (a resumed run carries its checkpoint's time).
    carried_seconds: f64,
    max_epochs: usize,
    time_budget: Option<f64>,
    rows_done: u64,
}

impl ProgressTracker {
    /// Starts the clock for a run of at most `max_epochs` epochs.
    pub fn new(max_epochs: usize, time_budget: Option<f64>, carried_seconds: f64) -> Self {
        Self {
            started: Instant::now(),
            carried_seconds,
            max_epochs,
            time_budget,
            rows_done: 0,
        }
    }

    /// Seconds since training started, including time carried over from a checkpoint.
    pub fn elapsed(&self) -> f64 {
        self.carried_seconds + self.started.elapsed().as_secs_f64()
    }

    /// Whether the time budget is spent.
    pub fn over_budget(&self) -> bool {
        self.time_budget.is_some_and(|b| self.elapsed() >= b)
    }

    /// Counts rows trained on.
    pub fn add_rows(&mut self, rows: usize) {
        self.rows_done += rows as u64;
    }

    /// Training rows per second in this run.
    pub fn rows_per_second(&self) -> f64 {
        let seconds = self.started.elapsed().as_secs_f64();
        if seconds > 0.0 {
            self.rows_done as f64 / seconds
        } else {
            0.0
        }
    }

    /// The event for finished epoch `epoch` (1-based), with the seconds left estimated
    /// from the mean epoch time, capped by the time budget.
    pub fn event(
        &self,
        epoch: usize,
        train_loss: f64,
        validation_loss: Option<f64>,
    ) -> ProgressEvent {
        let elapsed = self.elapsed();
        let per_epoch = elapsed / epoch.max(1) as f64;
        let mut eta = per_epoch * self.max_epochs.saturating_sub(epoch) as f64;
        if let Some(budget) = self.time_budget {
            eta = eta.min((budget - elapsed).max(0.0));
        }
        let mut losses = vec![("train".to_string(), train_loss)];
        if let Some(v) = validation_loss {
            losses.push(("validation".to_string(), v));
        }
        ProgressEvent {
            stage: "epoch",
            step: epoch as u64,
            total: self.max_epochs as u64,
            losses,
            message: format!(
                "epoch {epoch}: train loss {train_loss:.4}{}",
                validation_loss.map_or(String::new(), |v| format!(", validation loss {v:.4}"))
            ),
            epoch: Some(epoch as u64),
            rows_per_second: Some(self.rows_per_second()),
            eta_seconds: Some(eta),
        }
    }

    /// Reports the event for a finished epoch.
    pub fn report(
        &self,
        context: &mut FitContext,
        epoch: usize,
        train_loss: f64,
        validation_loss: Option<f64>,
    ) {
        context.report(self.event(epoch, train_loss, validation_loss));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_is_capped_by_the_budget() {
        let tracker = ProgressTracker::new(100, Some(10.0), 8.0);
        let event = tracker.event(4, 1.0, Some(2.0));
        let eta = event.eta_seconds.expect("eta");
        assert!(eta <= 2.0 + 1e-9, "{eta}");
        assert_eq!(event.epoch, Some(4));
        assert_eq!(event.losses.len(), 2);
    }
}
