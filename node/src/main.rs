//! The `mirage` binary.
//!
//! - `cli.rs`: the command line (clap) and dispatch.
//! - `synth.rs`: the one-shot pipeline ingest → profile → fit → sample → score → write.
//! - `choose.rs`: the automatic model choice by table shape and time budget.
//! - `profile_cmd.rs`: `mirage profile`; `evaluate_cmd.rs`: `mirage evaluate`.
//! - `dp_run.rs`: `mirage synth --epsilon`: DP model choice, reserve → fit → commit.
//! - `budget.rs`: per-dataset privacy ledgers on disk (`mirage budget`).
//! - `privacy_cmd.rs`: `mirage privacy epsilon|noise`, the DP-SGD calculator.
//! - `stages.rs`: progress bars on a terminal, plain lines elsewhere.
//! - `render.rs`: tables and summaries for people.
//! - `demo.rs`: the bundled Adult census dataset.
//! - `config.rs`: node configuration loading (`mirage config check`).
//! - `node_cmd.rs`: `mirage node` (a cluster member) and `mirage cluster status`.
//! - `admin_cmd.rs`: `mirage admin create-key|revoke-key`, and the bootstrap key.

mod admin_cmd;
mod api;
mod budget;
mod choose;
mod cli;
mod cluster;
mod config;
mod demo;
mod dp_run;
mod embedded;
mod evaluate_cmd;
mod gate_file;
#[allow(dead_code)] // wired into `mirage node` as its services land
mod gateway;
mod jobs;
mod node_cmd;
mod node_runtime;
mod privacy_cmd;
mod profile_cmd;
mod raft;
mod render;
mod request_id;
mod stages;
mod synth;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes joined by `: `, leaving out a cause whose text the message
/// before it already includes (library errors often quote their source).
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text
}
