//! The Mirage operator console: a terminal UI over a cluster's gRPC API.
//!
//! Flow: [`client::run`] polls a node every second on a tokio task ([`grpc::GrpcSource`]
//! behind [`client::Failover`], which moves to another node when one dies and follows the
//! leader) and sends [`Update`]s over a channel; [`terminal::run`] feeds them and the keys
//! ([`event::action`]) into the pure [`App`], and draws it with [`ui::draw`] whenever
//! something changed.
//!
//! - `app.rs`: state, derived events (`changes.rs`), selection, filters, dialogs (`dialog.rs`);
//!   `lists.rs`: the rows each view lists.
//! - `event.rs`: key → [`event::Action`].
//! - `ui/`: one file per view, plus the help and dialog overlays.
//! - `client.rs`, `grpc.rs`: polling, failover, the gRPC calls; `tls.rs`: the `--tls-*`
//!   options (shared with `mirage cluster status`).

pub mod app;
mod args;
pub mod changes;
pub mod client;
pub mod dialog;
mod error;
pub mod event;
pub mod format;
pub mod grpc;
mod lists;
pub mod snapshot;
mod terminal;
pub mod tls;
pub mod ui;
pub mod view;

#[cfg(test)]
mod fixtures;

pub use app::App;
pub use args::Args;
pub use error::{Error, Result, chain as error_chain};
pub use snapshot::{Command, Snapshot, Update};
pub use terminal::run;
pub use tls::{ClientTls, TlsArgs};
pub use view::View;
