//! Train jobs: fit a model on a stored table with checkpoints that survive the node, and
//! store the fitted model.
//!
//! The fit runs on a thread of its own; its progress events come to the job's thread,
//! which forwards them, stops the fit once the run is cancelled, and after each epoch
//! uploads the checkpoint the trainer wrote for the epoch before (the fit waits for it,
//! so uploads never fall behind and training never outruns its last recorded
//! checkpoint by more than one epoch). A run given a recorded checkpoint downloads it and
//! resumes there.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};
use mirage_actors::runtime::JobProgress;
use mirage_core::Table;
use mirage_core::records::ModelKind;
use mirage_models::training::checkpoint;
use mirage_models::{CancellationToken, FitContext, ProgressEvent, Synthesizer};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::checkpoints::CheckpointUploader;
use super::{JobEnv, inputs, payload};

/// How often the job's thread looks at the cancel flag while the fit runs.
const POLL: Duration = Duration::from_millis(100);

/// Fields of the model config's `training` section the runner sets itself.
const RUNNER_FIELDS: [&str; 3] = ["checkpoint_every", "checkpoint_dir", "resume_from"];

fn default_checkpoint_every() -> usize {
    1
}

/// A train job's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainPayload {
    /// The training table: an object key (e.g. `datasets/<id>/data.parquet`) or a file.
    pub dataset: String,
    /// The model family, e.g. `tabular-argn`, `tvae`, `ctgan`, `tab-ddpm`,
    /// `gaussian-copula`.
    pub model: String,
    /// The model's hyperparameters (its JSON config; `null` for the defaults).
    #[serde(default)]
    pub config: serde_json::Value,
    /// The model's id: it is stored under `models/<model_id>/`.
    pub model_id: String,
    /// The catalog dataset the table is (for listings; the runner reads `dataset`).
    #[serde(default)]
    pub dataset_id: Option<String>,
    /// Write and record a checkpoint every this many epochs.
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: usize,
    /// The training seed (`training.seed`, or `seed` for models without a training loop).
    #[serde(default)]
    pub seed: Option<u64>,
}

/// What a train job did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainResult {
    /// The object key prefix of the stored model.
    pub model: String,
    /// Epochs finished, counting those before a resume (0 for models without epochs).
    pub epochs: u64,
    /// The epoch of the checkpoint this run resumed from (`None` = trained from scratch).
    pub resumed_from_epoch: Option<u64>,
    /// The object key of the last checkpoint this run recorded, if any.
    pub checkpoint: Option<String>,
    /// What a differentially private fit spent, with its mechanisms (`None` without DP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<mirage_privacy::PrivacyReport>,
}

/// The object key prefix of model `id`.
pub fn model_prefix(id: &str) -> String {
    format!("models/{id}")
}

/// Whether `kind` trains in epochs through the shared training loop (and so has a
/// `training` config section with checkpoints).
fn trains_in_epochs(kind: ModelKind) -> bool {
    matches!(
        kind,
        ModelKind::TabularArgn
            | ModelKind::Tvae
            | ModelKind::Ctgan
            | ModelKind::CopulaGan
            | ModelKind::TabDdpm
    )
}

/// The checkpoint key recorded for the job, as a key of the store (a recorded full URL
/// of this store is accepted too).
fn checkpoint_key<'k>(env: &JobEnv<'_>, recorded: &'k str) -> &'k str {
    recorded
        .strip_prefix(env.storage.url())
        .unwrap_or(recorded)
        .trim_matches('/')
}

/// Builds the config the fit gets: the payload's, with the runner's checkpoint settings
/// (and the resume point) in its `training` section.
fn fit_config(
    env: &JobEnv<'_>,
    request: &TrainPayload,
    kind: ModelKind,
    resume_from: Option<&Path>,
) -> anyhow::Result<serde_json::Value> {
    let job_kind = env.kind_name();
    let mut config = match &request.config {
        serde_json::Value::Null => serde_json::json!({}),
        serde_json::Value::Object(_) => request.config.clone(),
        _ => bail!(
            "{job_kind} payload: field `config`: must be a JSON object of the model's settings"
        ),
    };
    if !trains_in_epochs(kind) {
        if let Some(seed) = request.seed {
            config["seed"] = seed.into();
        }
        return Ok(config);
    }
    let training = config
        .as_object_mut()
        .map(|c| c.entry("training").or_insert_with(|| serde_json::json!({})))
        .context("the model config is an object")?;
    let Some(training) = training.as_object_mut() else {
        bail!("{job_kind} payload: field `config.training`: must be a JSON object");
    };
    for field in RUNNER_FIELDS {
        if training.contains_key(field) {
            bail!(
                "{job_kind} payload: field `config.training.{field}`: set by the job runner; use the payload's `checkpoint_every` instead"
            );
        }
    }
    if let Some(seed) = request.seed {
        training.insert("seed".into(), seed.into());
    }
    // A differentially private fit cannot resume (its accountant would miss the earlier
    // steps), so it runs without checkpoints and starts over on a re-run.
    if request.config.get("privacy").is_some() {
        return Ok(config);
    }
    let checkpoint_dir = env.scratch.join("checkpoints");
    training.insert("checkpoint_every".into(), request.checkpoint_every.into());
    training.insert(
        "checkpoint_dir".into(),
        checkpoint_dir.to_string_lossy().into_owned().into(),
    );
    if let Some(dir) = resume_from {
        training.insert(
            "resume_from".into(),
            dir.to_string_lossy().into_owned().into(),
        );
    }
    Ok(config)
}

/// Downloads the job's recorded checkpoint, if any; returns its local directory and epoch.
fn fetch_checkpoint(
    env: &JobEnv<'_>,
    kind: ModelKind,
    private: bool,
) -> anyhow::Result<Option<(std::path::PathBuf, u64)>> {
    let Some(recorded) = env.context.checkpoint() else {
        return Ok(None);
    };
    if !trains_in_epochs(kind) || private {
        warn!(checkpoint = recorded, model = %kind, "this fit cannot resume; training from scratch");
        return Ok(None);
    }
    let key = checkpoint_key(env, recorded);
    let name = key.rsplit('/').next().unwrap_or("checkpoint");
    let dir = env.scratch.join("resume").join(name);
    env.storage
        .download_prefix(key, &dir)
        .with_context(|| format!("fetching the recorded checkpoint {key:?}"))?;
    let state = checkpoint::read_state(&dir)
        .with_context(|| format!("reading the recorded checkpoint {key:?}"))?;
    info!(
        checkpoint = key,
        epoch = state.epoch,
        "resuming from the recorded checkpoint"
    );
    Ok(Some((dir, state.epoch as u64)))
}

fn job_progress(event: &ProgressEvent) -> JobProgress {
    JobProgress {
        stage: event.stage.to_string(),
        step: event.step,
        total: event.total,
        epoch: event.epoch,
        losses: event.losses.clone(),
        message: event.message.clone(),
    }
}

/// What the fit's thread sends: an event, and for epoch events a way to wait until the
/// job's thread has handled it.
type FitMessage = (ProgressEvent, Option<mpsc::SyncSender<()>>);

/// Fits `kind` on `table`, forwarding progress, uploading checkpoints and stopping on
/// cancellation. Returns the model and the last epoch the fit reported.
fn fit(
    env: &JobEnv<'_>,
    kind: ModelKind,
    table: &Table,
    config: &serde_json::Value,
    uploader: &mut CheckpointUploader<'_>,
) -> anyhow::Result<(Box<dyn Synthesizer>, Option<u64>)> {
    let cancel = CancellationToken::new();
    let flag = env.context.cancel_flag();
    let (sender, receiver) = mpsc::channel::<FitMessage>();
    let fit_cancel = cancel.clone();
    let mut context = FitContext::new(
        move |event| {
            if flag.load(std::sync::atomic::Ordering::SeqCst) {
                fit_cancel.cancel();
            }
            if event.epoch.is_some() {
                let (ack, done) = mpsc::sync_channel(1);
                if sender.send((event.clone(), Some(ack))).is_ok() {
                    // Err = the job's thread dropped the acknowledgement: go on.
                    let _ = done.recv();
                }
            } else {
                let _ = sender.send((event.clone(), None));
            }
        },
        cancel.clone(),
    );
    let mut last_epoch = None;
    let fitted = std::thread::scope(|scope| {
        // The context (and with it the sender) moves into the fit's thread and is dropped
        // when the fit ends, which closes the channel and ends the loop below.
        let worker = scope.spawn(move || mirage_models::fit(kind, table, config, &mut context));
        loop {
            match receiver.recv_timeout(POLL) {
                Ok((event, ack)) => {
                    env.context.progress(job_progress(&event));
                    if event.epoch.is_some() {
                        last_epoch = event.epoch;
                        // The checkpoint of the epoch before is complete now.
                        if let Err(error) = uploader.sweep() {
                            warn!(%error, "checkpoint upload failed; training goes on and the next checkpoint tries again");
                        }
                    }
                    // Stop the fit before it goes on, so that it never trains past a
                    // lost lease by more than the epoch in hand.
                    if env.context.is_cancelled() {
                        cancel.cancel();
                    }
                    drop(ack);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if env.context.is_cancelled() {
                cancel.cancel();
            }
        }
        worker.join()
    });
    let fitted = fitted.map_err(|_| anyhow::anyhow!("the model crashed while fitting"))?;
    env.check_cancelled()?;
    let model = fitted.with_context(|| format!("fitting {kind}"))?;
    Ok((model, last_epoch))
}

/// Runs a train job.
pub fn run(env: &JobEnv<'_>, payload: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
    let job_kind = env.kind_name();
    let request: TrainPayload = payload::parse(job_kind, payload)?;
    payload::check_id(job_kind, "model_id", &request.model_id)?;
    let kind = mirage_models::parse_model_kind(&request.model)
        .with_context(|| format!("{job_kind} payload: field `model`"))?;
    if request.checkpoint_every == 0 {
        bail!("{job_kind} payload: field `checkpoint_every`: must be at least 1 (epochs)");
    }
    let private = request.config.get("privacy").is_some();

    env.progress("read", 0, 1, format!("reading {}", request.dataset));
    let path = inputs::fetch(env, "dataset", &request.dataset)?;
    let source = inputs::read(&path, "dataset")?;
    let modelled = crate::synth::modelled_columns(source.schema());
    if modelled.is_empty() {
        bail!(
            "{job_kind} payload: field `dataset`: every column of {} is flagged as personal data; nothing to train on",
            request.dataset
        );
    }
    let table = crate::synth::project(&source, &modelled)?;
    drop(source);
    env.check_cancelled()?;

    let resumed = fetch_checkpoint(env, kind, private)?;
    let config = fit_config(
        env,
        &request,
        kind,
        resumed.as_ref().map(|(dir, _)| dir.as_path()),
    )?;
    let job_id = env.job.spec.id.to_string();
    let mut uploader = CheckpointUploader::new(
        env.storage,
        env.context,
        env.scratch.join("checkpoints"),
        &job_id,
    );
    info!(
        model = %kind,
        rows = table.num_rows(),
        columns = table.schema().len(),
        resumed_from_epoch = ?resumed.as_ref().map(|(_, e)| *e),
        "training"
    );
    let (model, last_epoch) = fit(env, kind, &table, &config, &mut uploader)?;
    // The checkpoint of the last epoch, so that a re-run after a loss of this node before
    // the model is stored has nothing left to train.
    if let Err(error) = uploader.sweep() {
        warn!(%error, "cannot upload the last checkpoint");
    }

    let local = env.scratch.join("model");
    mirage_models::save_model(model.as_ref(), &local)
        .with_context(|| format!("saving the model to {}", local.display()))?;
    let prefix = model_prefix(&request.model_id);
    env.progress("store", 1, 1, format!("storing {prefix}"));
    env.storage
        .upload_dir(&local, &prefix, Some("model.json"))?;
    let resumed_from_epoch = resumed.map(|(_, epoch)| epoch);
    let epochs = last_epoch.or(resumed_from_epoch).unwrap_or(0);
    info!(model = %prefix, epochs, ?resumed_from_epoch, "model stored");
    payload::result_json(
        job_kind,
        &TrainResult {
            model: prefix,
            epochs,
            resumed_from_epoch,
            checkpoint: uploader
                .last_recorded()
                .map(|e| format!("{}/", uploader.key(e))),
            privacy: model.privacy_report(),
        },
    )
}
