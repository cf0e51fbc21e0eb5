//! `mirage privacy`: the DP-SGD calculator.
//!
//! `epsilon` reports the ε that Poisson-subsampled Gaussian steps spend, by the RDP
//! accountant (which enforces budgets) and by the tighter PRV accountant (for reporting);
//! `noise` solves for the noise multiplier that meets a target ε by RDP.

use anyhow::Context;
use clap::{Args, Subcommand};
use mirage_privacy::{PrvAccountant, PrvEpsilon, RdpAccountant, noise_multiplier_for};
use serde::Serialize;

/// What `mirage privacy` can compute.
#[derive(Debug, Subcommand)]
pub enum PrivacyCommand {
    /// The ε that DP-SGD training spends, by RDP and by the PRV accountant.
    Epsilon(EpsilonArgs),
    /// The noise multiplier that keeps DP-SGD training within a target ε (by RDP).
    Noise(NoiseArgs),
}

/// `mirage privacy epsilon`.
#[derive(Debug, Args)]
pub struct EpsilonArgs {
    /// Probability that a record is in a batch (batch size / rows), 0 < Q ≤ 1.
    #[arg(long, value_name = "Q", value_parser = sample_rate, allow_negative_numbers = true)]
    pub sample_rate: f64,
    /// Noise standard deviation over the clipping norm, S > 0.
    #[arg(long, value_name = "S", value_parser = positive, allow_negative_numbers = true)]
    pub noise_multiplier: f64,
    /// Training steps, at least 1.
    #[arg(long, value_name = "N", value_parser = steps)]
    pub steps: u64,
    /// δ, 0 < D < 1.
    #[arg(long, value_name = "D", value_parser = delta, allow_negative_numbers = true)]
    pub delta: f64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `mirage privacy noise`.
#[derive(Debug, Args)]
pub struct NoiseArgs {
    /// Probability that a record is in a batch (batch size / rows), 0 < Q ≤ 1.
    #[arg(long, value_name = "Q", value_parser = sample_rate, allow_negative_numbers = true)]
    pub sample_rate: f64,
    /// Training steps, at least 1.
    #[arg(long, value_name = "N", value_parser = steps)]
    pub steps: u64,
    /// The ε to stay within, E > 0.
    #[arg(long, value_name = "E", value_parser = positive, allow_negative_numbers = true)]
    pub epsilon: f64,
    /// δ, 0 < D < 1.
    #[arg(long, value_name = "D", value_parser = delta, allow_negative_numbers = true)]
    pub delta: f64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn number(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(format!("{text:?} is not a finite number"))
    }
}

fn sample_rate(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    if value > 0.0 && value <= 1.0 {
        Ok(value)
    } else {
        Err(format!("{value} is not within (0, 1]"))
    }
}

fn positive(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(format!("{value} must be greater than 0"))
    }
}

fn delta(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    if value > 0.0 && value < 1.0 {
        Ok(value)
    } else {
        Err(format!("{value} is not within (0, 1)"))
    }
}

fn steps(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(value) => Ok(value),
        Err(_) => Err(format!("{text:?} is not a whole number of steps")),
    }
}

/// ε of `steps` steps by both accountants.
#[derive(Debug, Serialize)]
struct Spend {
    epsilon_rdp: f64,
    /// The RDP order that gives `epsilon_rdp`.
    order: f64,
    epsilon_prv: f64,
    epsilon_prv_lower: f64,
    epsilon_prv_upper: f64,
}

fn spend(sample_rate: f64, noise_multiplier: f64, steps: u64, delta: f64) -> anyhow::Result<Spend> {
    let mut rdp = RdpAccountant::default();
    rdp.add_subsampled_gaussian(sample_rate, noise_multiplier, steps)
        .context("RDP accounting")?;
    let (epsilon_rdp, order) = rdp.epsilon(delta).context("RDP accounting")?;
    let mut prv = PrvAccountant::new();
    prv.add_subsampled_gaussian(sample_rate, noise_multiplier, steps)
        .context("PRV accounting")?;
    let PrvEpsilon {
        epsilon,
        lower,
        upper,
    } = prv.epsilon(delta).context("PRV accounting")?;
    Ok(Spend {
        epsilon_rdp,
        order,
        epsilon_prv: epsilon,
        epsilon_prv_lower: lower,
        epsilon_prv_upper: upper,
    })
}

#[derive(Debug, Serialize)]
struct EpsilonJson {
    sample_rate: f64,
    noise_multiplier: f64,
    steps: u64,
    delta: f64,
    #[serde(flatten)]
    spend: Spend,
}

#[derive(Debug, Serialize)]
struct NoiseJson {
    sample_rate: f64,
    steps: u64,
    target_epsilon: f64,
    delta: f64,
    noise_multiplier: f64,
    #[serde(flatten)]
    spend: Spend,
}

/// Runs the command and returns what to print.
pub fn run(command: &PrivacyCommand) -> anyhow::Result<String> {
    match command {
        PrivacyCommand::Epsilon(args) => {
            let spend = spend(
                args.sample_rate,
                args.noise_multiplier,
                args.steps,
                args.delta,
            )?;
            if args.json {
                let json = EpsilonJson {
                    sample_rate: args.sample_rate,
                    noise_multiplier: args.noise_multiplier,
                    steps: args.steps,
                    delta: args.delta,
                    spend,
                };
                return Ok(serde_json::to_string_pretty(&json)?);
            }
            Ok(format!(
                "sample rate {}, noise multiplier {}, {} steps, δ = {}\n{}",
                args.sample_rate,
                args.noise_multiplier,
                args.steps,
                scientific(args.delta),
                render_spend(&spend)
            ))
        }
        PrivacyCommand::Noise(args) => {
            let sigma =
                noise_multiplier_for(args.epsilon, args.delta, args.sample_rate, args.steps)
                    .with_context(|| {
                        format!(
                            "no noise multiplier reaches --epsilon {} in {} steps",
                            args.epsilon, args.steps
                        )
                    })?;
            let spend = spend(args.sample_rate, sigma, args.steps, args.delta)?;
            if args.json {
                let json = NoiseJson {
                    sample_rate: args.sample_rate,
                    steps: args.steps,
                    target_epsilon: args.epsilon,
                    delta: args.delta,
                    noise_multiplier: sigma,
                    spend,
                };
                return Ok(serde_json::to_string_pretty(&json)?);
            }
            Ok(format!(
                "sample rate {}, {} steps, target ε = {}, δ = {}\nnoise multiplier (RDP): {sigma:.4}\n{}",
                args.sample_rate,
                args.steps,
                args.epsilon,
                scientific(args.delta),
                render_spend(&spend)
            ))
        }
    }
}

/// The two ε lines, labels aligned.
fn render_spend(spend: &Spend) -> String {
    let rdp_label = format!("ε (RDP, order {:.1}):", spend.order);
    let prv_label = "ε (PRV):";
    let width = rdp_label.chars().count().max(prv_label.chars().count());
    format!(
        "{rdp_label:<width$} {}\n{prv_label:<width$} {} (≤ {})",
        number_text(spend.epsilon_rdp, 4),
        number_text(spend.epsilon_prv, 2),
        number_text(spend.epsilon_prv_upper, 2),
    )
}

fn number_text(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        "∞".into()
    }
}

/// `1e-05` rather than `0.00001` for small values, as people write δ.
fn scientific(value: f64) -> String {
    if value >= 1e-3 {
        return value.to_string();
    }
    let text = format!("{value:e}");
    match text.split_once('e') {
        Some((mantissa, exponent)) => match exponent.parse::<i32>() {
            Ok(exponent) if exponent < 0 => format!("{mantissa}e-{:02}", -exponent),
            _ => text,
        },
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_deltas_print_as_people_write_them() {
        assert_eq!(scientific(1e-5), "1e-05");
        assert_eq!(scientific(2.5e-7), "2.5e-07");
        assert_eq!(scientific(0.01), "0.01");
    }

    #[test]
    fn flag_values_are_checked() {
        assert!(sample_rate("0").is_err());
        assert!(sample_rate("1").is_ok());
        assert!(sample_rate("nan").is_err());
        assert!(positive("-1").is_err());
        assert!(positive("inf").is_err());
        assert!(delta("1").is_err());
        assert!(steps("0").is_err());
        assert!(steps("1.5").is_err());
        assert_eq!(steps("2250"), Ok(2250));
    }
}
