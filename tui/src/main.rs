//! `mirage-tui`: the operator console on its own (also `mirage tui`).

use clap::Parser;

/// The Mirage operator console.
#[derive(Debug, Parser)]
#[command(name = "mirage-tui", version, about)]
struct Cli {
    #[command(flatten)]
    args: mirage_tui::Args,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    mirage_tui::run(cli.args)?;
    Ok(())
}
