//! The terminal loop: raw mode and the alternate screen, a thread reading keys, the client
//! task, and one `select!` that feeds both into the [`App`] and redraws only on change.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossterm::event::{Event, KeyEvent, KeyEventKind};
use tokio::sync::mpsc;

use crate::client::{self, Failover};
use crate::grpc::{Credentials, GrpcSource};
use crate::{App, Args, Error, Result};

/// What the key-reading thread sends.
enum Input {
    Key(KeyEvent),
    Resize,
}

/// Runs the console until the operator quits.
pub fn run(args: Args) -> Result<()> {
    let (addresses, tls) = args.connection()?;
    let credentials = Credentials::new(args.api_key.as_deref(), args.cluster_secret.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| Error::Runtime { source })?;
    let source = GrpcSource::new(credentials).with_tls(tls);
    let outcome = runtime.block_on(run_async(addresses, source, args.interval()));
    // The key thread may sit in a blocking read for up to its poll interval; do not wait
    // for stray tasks.
    runtime.shutdown_timeout(Duration::from_millis(200));
    outcome
}

async fn run_async(addresses: Vec<String>, source: GrpcSource, interval: Duration) -> Result<()> {
    let (update_sender, mut updates) = mpsc::channel(32);
    let (command_sender, commands) = mpsc::channel(4);
    let failover = Failover::new(source, addresses);
    let client = tokio::spawn(client::run(failover, interval, update_sender, commands));

    let mut terminal = ratatui::try_init().map_err(|source| Error::Terminal { source })?;
    let stop = Arc::new(AtomicBool::new(false));
    let (key_sender, mut keys) = mpsc::unbounded_channel();
    let reader = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || read_terminal(&key_sender, &stop))
    };

    let mut app = App::new();
    let mut dirty = true;
    let outcome = loop {
        if dirty {
            if let Err(source) = terminal.draw(|frame| crate::ui::draw(frame, &app)) {
                break Err(Error::Terminal { source });
            }
            dirty = false;
        }
        tokio::select! {
            Some(update) = updates.recv() => dirty = app.apply(update),
            input = keys.recv() => match input {
                Some(Input::Key(key)) => {
                    if let Some(action) = crate::event::action(key, app.input_mode()) {
                        if let Some(command) = app.handle(action) {
                            // A full queue means commands are still running: say so.
                            if command_sender.try_send(command).is_err() {
                                app.status_line = "busy with earlier commands: try again in a moment".into();
                            }
                        }
                        dirty = true;
                    }
                }
                Some(Input::Resize) => dirty = true,
                None => break Ok(()),
            },
        }
        if app.quit {
            break Ok(());
        }
    };
    stop.store(true, Ordering::Relaxed);
    client.abort();
    ratatui::restore();
    let _ = reader.join();
    outcome
}

/// Forwards key presses and resizes until `stop` is set or the app stops listening.
fn read_terminal(sender: &mpsc::UnboundedSender<Input>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match crossterm::event::poll(Duration::from_millis(100)) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(_) => return,
        }
        let input = match crossterm::event::read() {
            Ok(Event::Key(key)) if key.kind != KeyEventKind::Release => Input::Key(key),
            Ok(Event::Resize(..)) => Input::Resize,
            Ok(_) => continue,
            Err(_) => return,
        };
        if sender.send(input).is_err() {
            return;
        }
    }
}
