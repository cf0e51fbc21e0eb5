//! The command line.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use mirage_core::{Condition, PiiPolicy};
use tracing_subscriber::EnvFilter;

use crate::privacy_cmd::PrivacyCommand;
use crate::profile_cmd::ProfileCommand;
use crate::stages::{SilentReporter, StageReporter};
use crate::synth::{Input, SynthOptions};

/// Mirage: learn a private table, generate a synthetic copy, and say how good it is.
#[derive(Debug, Parser)]
#[command(name = "mirage", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum BudgetCommand {
    /// Print the budget, what was spent and reserved, and the hash-chained log.
    Show {
        /// The dataset.
        dataset: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set (create or change) the budget; refused below what is already spent.
    Set {
        /// The dataset.
        dataset: String,
        /// ε of the budget.
        #[arg(long)]
        epsilon: f64,
        /// δ of the budget.
        #[arg(long)]
        delta: f64,
    },
}

// Parsed once per process: the size of the `synth` variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Show a table's schema, statistics and personal-data findings.
    Profile {
        /// CSV (optionally .gz) or Parquet file; the bundled Adult census data when omitted.
        file: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Schema-override file (TOML or JSON) that sets column kinds, formats and PII policy.
        #[arg(long)]
        schema: Option<PathBuf>,
        /// Profile a random sample of this share of rows (0 < rate ≤ 1).
        #[arg(long)]
        sample_rate: Option<f64>,
    },
    /// Ingest, profile, fit, sample and score in one go.
    Synth {
        /// CSV (optionally .gz) or Parquet file; the bundled Adult census data when omitted.
        file: Option<PathBuf>,
        /// Model family (see `mirage models`); chosen from the table's size and the time
        /// budget when omitted.
        #[arg(long)]
        model: Option<String>,
        /// End-to-end time budget: `30s`, `2m` or plain seconds (`90`). Picks the model when
        /// --model is omitted and caps training for models that stop on a budget
        /// [default: 30s].
        #[arg(long)]
        time_budget: Option<String>,
        /// Model hyperparameters as JSON, e.g. '{"marginals": "empirical"}'.
        #[arg(long)]
        config: Option<String>,
        /// Training epochs for the neural models (tabular-argn, tvae, ctgan, copulagan,
        /// tabddpm); needs --model. Overrides `training.max_epochs` in --config.
        #[arg(long)]
        epochs: Option<usize>,
        /// Rows to generate (default: as many as the source). They stream to the output in
        /// batches, so memory does not grow with the count.
        #[arg(long)]
        rows: Option<usize>,
        /// Random seed: the same seed gives the same rows.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output file, .csv or .parquet (default: <source>.synthetic.csv here).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the assessment as JSON here (default: <out>.report.json).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Write the assessment as a self-contained HTML page here (default: <out>.report.html).
        #[arg(long)]
        html: Option<PathBuf>,
        /// Hold out this share of the source rows (e.g. 0.2) from training, so the report can
        /// measure utility and privacy against rows the model never saw.
        #[arg(long)]
        holdout: Option<f64>,
        /// The column utility metrics predict (needs --holdout).
        #[arg(long)]
        target: Option<String>,
        /// Gate thresholds (TOML or JSON; keys as in the report's gate checks, e.g.
        /// `min_overall = 0.9`); the defaults otherwise.
        #[arg(long)]
        gate: Option<PathBuf>,
        /// Schema-override file (TOML or JSON).
        #[arg(long)]
        schema: Option<PathBuf>,
        /// A condition every row must meet, e.g. 'age>65', 'sex=Female',
        /// 'workclass in (Private, State-gov)', 'hours-per-week between 20 and 40'. Repeatable.
        #[arg(long = "condition", short = 'c')]
        conditions: Vec<String>,
        /// What to do with columns flagged as personal data (default: exclude, or the
        /// schema file's choice).
        #[arg(long, value_enum)]
        pii: Option<PiiChoice>,
        /// Save the fitted model to this new directory.
        #[arg(long)]
        save_model: Option<PathBuf>,
        /// Rows per generated batch.
        #[arg(long, default_value_t = 10_000)]
        batch_size: usize,
        /// Print no progress, only the summary.
        #[arg(long, short)]
        quiet: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Train with differential privacy at this ε (models: mst — the default at
        /// ε ≤ 1 —, tabular-argn, tvae, ctgan). The spend is reserved from the dataset's
        /// budget before training and committed after.
        #[arg(long)]
        epsilon: Option<f64>,
        /// δ of the DP guarantee (needs --epsilon) [default: 1e-5].
        #[arg(long, requires = "epsilon")]
        delta: Option<f64>,
        /// Facts declared public (category sets, bounds, quantums; TOML or JSON): used
        /// without spending budget (needs --epsilon).
        #[arg(long, requires = "epsilon")]
        public: Option<PathBuf>,
        /// The dataset whose privacy budget pays (default: the file's name without
        /// extensions; `adult` for the demo).
        #[arg(long, requires = "epsilon")]
        dataset: Option<String>,
        /// Keep the embedded cluster's replicated state (sled) in this directory instead of
        /// a temporary one, so its job records outlive the run.
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// Show or set a dataset's privacy budget, its spend and its event log.
    Budget {
        #[command(subcommand)]
        command: BudgetCommand,
    },
    /// Assess a synthetic table against the real rows it was trained on: fidelity,
    /// utility, privacy risk, the gate and recommendations.
    Evaluate {
        /// The real rows the generator was trained on (CSV or Parquet).
        #[arg(long)]
        real: PathBuf,
        /// The synthetic table; read with the real table's schema.
        #[arg(long)]
        synthetic: PathBuf,
        /// Real rows the generator never saw (enables utility and privacy metrics).
        #[arg(long)]
        holdout: Option<PathBuf>,
        /// The column utility metrics predict (needs --holdout).
        #[arg(long)]
        target: Option<String>,
        /// Gate thresholds (TOML or JSON; keys as in the report's gate checks, e.g.
        /// `min_overall = 0.9`); the defaults otherwise.
        #[arg(long)]
        gate: Option<PathBuf>,
        /// Schema-override file for the real table.
        #[arg(long)]
        schema: Option<PathBuf>,
        /// Write the assessment as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write the assessment as a self-contained HTML page here.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// List the models this build can fit.
    Models,
    /// DP-SGD calculator: the ε a training run spends, or the noise a target ε needs.
    Privacy {
        #[command(subcommand)]
        command: PrivacyCommand,
    },
    /// Check a node configuration file (and MIRAGE_* variables) and print the result.
    Config {
        /// The TOML file; the defaults when omitted.
        file: Option<PathBuf>,
    },
    /// Run a cluster node until Ctrl-C or SIGTERM (the cluster secret comes from
    /// MIRAGE_CLUSTER_SECRET or the file's `cluster_secret`; needed with peers).
    Node {
        /// The node's TOML configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Ask a running node about the cluster.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Open the operator console (a terminal UI) on a running cluster.
    Tui(mirage_tui::Args),
    /// Manage API keys (through the cluster, with its secret).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an API key and print it once on stdout (nothing else goes there).
    CreateKey {
        /// A member's TOML config (its address, peers and [tls]); the cluster secret comes
        /// from MIRAGE_CLUSTER_SECRET or the file's `cluster_secret`.
        #[arg(long)]
        config: PathBuf,
        /// The tenant: tnt_… or a UUID, `default` (the bootstrap key's), or `new` (a fresh
        /// id, printed on stderr; needs --tenant-name).
        #[arg(long, value_parser = crate::admin_cmd::parse_tenant)]
        tenant: crate::admin_cmd::TenantChoice,
        /// admin, operator or analyst.
        #[arg(long, value_parser = crate::admin_cmd::parse_role)]
        role: mirage_actors::Role,
        /// A name for the key ("ci", "laptop").
        #[arg(long, default_value = "")]
        label: String,
        /// Create the tenant with this name first (harmless if it exists with that name).
        #[arg(long)]
        tenant_name: Option<String>,
    },
    /// Revoke an API key at once, on every node.
    RevokeKey {
        /// A member's TOML config.
        #[arg(long)]
        config: PathBuf,
        /// The key, as printed by create-key.
        #[arg(long)]
        key: String,
    },
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Print the members, leader, term, commit index and each node's resources.
    Status {
        /// The node to ask (its grpc_addr: HOST:PORT, or https://HOST:PORT).
        #[arg(long, default_value = "127.0.0.1:7700")]
        addr: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// TLS to the node (when it has a `[tls]` section).
        #[command(flatten)]
        tls: mirage_tui::TlsArgs,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PiiChoice {
    /// Leave PII columns out of the model and the output.
    Exclude,
    /// Model PII columns like any other (you accept the risk).
    Keep,
    /// Leave them out of the model; fill the output with realistic fake values.
    Fake,
}

impl From<PiiChoice> for PiiPolicy {
    fn from(choice: PiiChoice) -> Self {
        match choice {
            PiiChoice::Exclude => PiiPolicy::Exclude,
            PiiChoice::Keep => PiiPolicy::Keep,
            PiiChoice::Fake => PiiPolicy::Fake,
        }
    }
}

/// `adult.csv.gz` → `adult.synthetic.csv`.
fn default_output(input: Option<&Path>) -> PathBuf {
    let name = input
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "adult.csv".into());
    let mut stem = name.as_str();
    for suffix in [".gz", ".csv", ".tsv", ".txt", ".parquet"] {
        if let Some(s) = stem.strip_suffix(suffix) {
            stem = s;
        }
    }
    PathBuf::from(format!("{stem}.synthetic.csv"))
}

/// Parses the command line and runs the command.
pub fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("MIRAGE_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Profile {
            file,
            json,
            schema,
            sample_rate,
        } => {
            let text = crate::profile_cmd::run(&ProfileCommand {
                file,
                json,
                schema,
                sample_rate,
            })?;
            println!("{text}");
        }
        Command::Synth {
            file,
            model,
            time_budget,
            config,
            epochs,
            rows,
            seed,
            out,
            report,
            html,
            holdout,
            target,
            gate,
            schema,
            conditions,
            pii,
            save_model,
            batch_size,
            quiet,
            json,
            epsilon,
            delta,
            public,
            dataset,
            state_dir,
        } => {
            let privacy = epsilon.map(|epsilon| crate::dp_run::PrivacyRequest {
                epsilon,
                delta: delta.unwrap_or(1e-5),
                public,
                dataset,
            });
            let model_config = match config {
                Some(text) => serde_json::from_str(&text)
                    .with_context(|| format!("--config {text:?} is not valid JSON"))?,
                None => serde_json::Value::Null,
            };
            let model = model
                .as_deref()
                .map(mirage_models::parse_model_kind)
                .transpose()?;
            let model_config = match epochs {
                Some(epochs) => with_epochs(model, model_config, epochs)?,
                None => model_config,
            };
            let conditions = conditions
                .iter()
                .map(|c| Condition::parse(c).with_context(|| format!("--condition {c:?}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let options = SynthOptions {
                out: out.unwrap_or_else(|| default_output(file.as_deref())),
                input: file.map_or(Input::Demo, Input::File),
                model,
                time_budget: time_budget
                    .as_deref()
                    .map(crate::choose::parse_budget)
                    .transpose()?,
                model_config,
                rows,
                seed,
                report,
                html,
                holdout,
                target,
                gate,
                schema,
                conditions,
                pii: pii.map(PiiPolicy::from),
                save_model,
                batch_size,
                privacy,
            };
            let mut reporter: Box<dyn StageReporter> = if quiet || json {
                Box::new(SilentReporter)
            } else {
                crate::stages::reporter()
            };
            // The run is one job of the embedded single-node cluster: the same state
            // machine, scheduler, node supervisor and worker as `mirage node`.
            let payload = serde_json::json!({
                "task": "synth",
                "source": options.input.describe(),
                "out": options.out.display().to_string(),
            });
            let summary = crate::embedded::run_task(
                state_dir.as_deref(),
                mirage_core::records::JobKind::Train,
                payload,
                move |_context| crate::synth::run(&options, reporter.as_mut()),
                |summary| serde_json::to_value(summary).unwrap_or(serde_json::Value::Null),
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print!("{}", crate::render::summary(&summary));
            }
        }
        Command::Evaluate {
            real,
            synthetic,
            holdout,
            target,
            gate,
            schema,
            json,
            html,
        } => {
            let command = crate::evaluate_cmd::EvaluateCommand {
                real,
                synthetic,
                holdout,
                target,
                gate,
                schema,
                json,
                html,
            };
            let assessment = crate::evaluate_cmd::run(&command)?;
            print!("{}", crate::render::quality(&assessment.fidelity));
            print!("{}", crate::render::assessment(&assessment));
        }
        Command::Config { file } => {
            let config = crate::config::load(file.as_deref(), |name| std::env::var(name).ok())?;
            print!("{}", toml::to_string_pretty(&config)?);
        }
        Command::Node { config } => crate::node_cmd::run_node(&config)?,
        Command::Cluster {
            command: ClusterCommand::Status { addr, json, tls },
        } => {
            print!("{}", crate::node_cmd::run_status(&addr, json, &tls)?);
            if json {
                println!();
            }
        }
        Command::Tui(args) => mirage_tui::run(args)?,
        Command::Admin {
            command:
                AdminCommand::CreateKey {
                    config,
                    tenant,
                    role,
                    label,
                    tenant_name,
                },
        } => {
            let key = crate::admin_cmd::run_create_key(
                &config,
                crate::admin_cmd::CreateKey {
                    tenant,
                    role,
                    label,
                    tenant_name,
                },
            )?;
            println!("{key}");
        }
        Command::Admin {
            command: AdminCommand::RevokeKey { config, key },
        } => crate::admin_cmd::run_revoke_key(&config, &key)?,
        Command::Models => {
            for kind in mirage_models::available_models() {
                println!("{kind}");
            }
        }
        Command::Budget { command } => {
            let store = crate::budget::BudgetStore::from_environment()?;
            match command {
                BudgetCommand::Show { dataset, json } => {
                    let Some(ledger) = store.load(&dataset)? else {
                        anyhow::bail!(
                            "dataset {dataset:?} has no privacy budget in {} (set one with `mirage budget set`)",
                            store.dir().display()
                        );
                    };
                    let view = crate::budget::BudgetView::of(&dataset, &ledger);
                    if json {
                        println!("{}", serde_json::to_string_pretty(&view)?);
                    } else {
                        print!("{}", view.render());
                    }
                }
                BudgetCommand::Set {
                    dataset,
                    epsilon,
                    delta,
                } => {
                    let budget = mirage_privacy::Spend::new(epsilon, delta);
                    mirage_privacy::PrivacyBudget::new(epsilon, delta)
                        .context("--epsilon/--delta")?;
                    let (ledger, _) = store.update(&dataset, Some(budget), |ledger| {
                        ledger.set_budget(budget)?;
                        Ok(ledger.clone())
                    })?;
                    print!(
                        "{}",
                        crate::budget::BudgetView::of(&dataset, &ledger).render()
                    );
                }
            }
        }
        Command::Privacy { command } => {
            println!("{}", crate::privacy_cmd::run(&command)?);
        }
    }
    Ok(())
}

/// `config` with `training.max_epochs = epochs`, for a model that trains in epochs.
fn with_epochs(
    model: Option<mirage_core::records::ModelKind>,
    config: serde_json::Value,
    epochs: usize,
) -> anyhow::Result<serde_json::Value> {
    use mirage_core::records::ModelKind;
    let Some(kind) = model else {
        anyhow::bail!("--epochs needs --model (the automatic choice sets its own epochs)");
    };
    if kind == ModelKind::GaussianCopula {
        anyhow::bail!("--epochs does not apply to gaussian-copula, which fits in one pass");
    }
    if epochs == 0 {
        anyhow::bail!("--epochs must be at least 1");
    }
    let mut config = match config {
        serde_json::Value::Null => serde_json::json!({}),
        serde_json::Value::Object(map) => serde_json::Value::Object(map),
        other => anyhow::bail!("--config must be a JSON object, not {other}"),
    };
    let training = config
        .as_object_mut()
        .and_then(|map| {
            map.entry("training")
                .or_insert_with(|| serde_json::json!({}))
                .as_object_mut()
        })
        .ok_or_else(|| anyhow::anyhow!("--config's \"training\" must be a JSON object"))?;
    training.insert("max_epochs".into(), serde_json::json!(epochs));
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_output_strips_every_suffix() {
        assert_eq!(default_output(None), PathBuf::from("adult.synthetic.csv"));
        assert_eq!(
            default_output(Some(Path::new("/x/people.csv.gz"))),
            PathBuf::from("people.synthetic.csv")
        );
        assert_eq!(
            default_output(Some(Path::new("t.parquet"))),
            PathBuf::from("t.synthetic.csv")
        );
    }

    #[test]
    fn the_command_line_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn epochs_go_into_the_training_config_of_epoch_models_only() {
        use mirage_core::records::ModelKind;
        let config = with_epochs(
            Some(ModelKind::Tvae),
            serde_json::json!({"latent_dim": 64, "training": {"batch_size": 100}}),
            7,
        )
        .expect("config");
        assert_eq!(config["training"]["max_epochs"], 7);
        assert_eq!(config["training"]["batch_size"], 100);
        assert_eq!(config["latent_dim"], 64);
        let error = with_epochs(Some(ModelKind::GaussianCopula), serde_json::Value::Null, 3)
            .expect_err("copula");
        assert!(error.to_string().contains("gaussian-copula"), "{error}");
        let error = with_epochs(None, serde_json::Value::Null, 3).expect_err("no model");
        assert!(error.to_string().contains("--model"), "{error}");
        assert!(with_epochs(Some(ModelKind::Tvae), serde_json::json!([1]), 3).is_err());
        assert!(with_epochs(Some(ModelKind::Tvae), serde_json::Value::Null, 0).is_err());
    }
}
