//! `PrivacyService`: a dataset's privacy budget (set by admins), what has been spent and
//! reserved of it, and its hash-chained ledger.

use mirage_actors::Command;
use mirage_core::DatasetId;
use mirage_privacy::{Ledger, LedgerEvent, LogEntry, Spend};
use mirage_proto::v1;
use mirage_proto::v1::privacy_service_server::PrivacyService;
use tonic::{Request, Response, Status};

use crate::gateway::access::parse_id;
use crate::gateway::{Gateway, Need, caller, paging, status};

/// The privacy service of one node.
#[derive(Debug, Clone)]
pub struct PrivacyApi {
    gateway: Gateway,
}

impl PrivacyApi {
    /// The service over `gateway`.
    pub fn new(gateway: Gateway) -> Self {
        Self { gateway }
    }
}

/// The protobuf view of a dataset's budget.
pub fn budget_view(dataset: DatasetId, ledger: &Ledger) -> v1::PrivacyBudget {
    let budget = ledger.budget();
    let spent = ledger.committed().epsilon;
    let reserved = ledger.reserved().epsilon;
    v1::PrivacyBudget {
        dataset_id: dataset.to_string(),
        epsilon_limit: budget.epsilon,
        delta: budget.delta,
        epsilon_spent: spent,
        epsilon_reserved: reserved,
        epsilon_remaining: (budget.epsilon - spent - reserved).max(0.0),
    }
}

/// The protobuf view of one ledger entry.
pub fn event_view(dataset: DatasetId, entry: &LogEntry) -> v1::LedgerEvent {
    use v1::LedgerEventKind as K;
    let (kind, spend, job, mechanism) = match &entry.event {
        LedgerEvent::BudgetSet { budget } => (K::SetBudget, *budget, "", String::new()),
        LedgerEvent::Reserved { request, spend } => {
            (K::Reserve, *spend, request.as_str(), String::new())
        }
        LedgerEvent::Committed {
            request,
            spend,
            mechanisms,
            accountant,
            ..
        } => {
            let mechanism = if mechanisms.is_empty() {
                String::new()
            } else {
                serde_json::json!({ "mechanisms": mechanisms, "accountant": accountant })
                    .to_string()
            };
            (K::Commit, *spend, request.as_str(), mechanism)
        }
        LedgerEvent::Released { request } => (
            K::Release,
            Spend::default(),
            request.as_str(),
            String::new(),
        ),
    };
    let prev_hash = if entry.previous.bytes().all(|b| b == b'0') {
        String::new()
    } else {
        entry.previous.clone()
    };
    v1::LedgerEvent {
        sequence: entry.sequence,
        dataset_id: dataset.to_string(),
        kind: kind as i32,
        epsilon: spend.epsilon,
        delta: spend.delta,
        job_id: job.to_owned(),
        mechanism,
        hash: entry.hash.clone(),
        prev_hash,
        at_ms: 0,
    }
}

fn no_budget(dataset: DatasetId) -> Status {
    status::not_found(format!(
        "dataset {dataset} has no privacy budget; an admin sets one with PrivacyService.SetBudget"
    ))
}

#[tonic::async_trait]
impl PrivacyService for PrivacyApi {
    async fn set_budget(
        &self,
        request: Request<v1::SetBudgetRequest>,
    ) -> Result<Response<v1::SetBudgetResponse>, Status> {
        let caller = caller(&request)?;
        caller.require(Need::Admin, "setting a privacy budget")?;
        let request = request.into_inner();
        let dataset: DatasetId = parse_id("dataset_id", &request.dataset_id)?;
        self.gateway.dataset_for(&caller, dataset).await?;
        if !(request.epsilon_limit.is_finite() && request.epsilon_limit > 0.0) {
            return Err(status::invalid(
                "epsilon_limit",
                "must be a positive number",
            ));
        }
        if !(request.delta > 0.0 && request.delta < 1.0) {
            return Err(status::invalid(
                "delta",
                "must be between 0 and 1 (exclusive), e.g. 1e-5",
            ));
        }
        let budget = Spend::new(request.epsilon_limit, request.delta);
        self.gateway
            .apply_visible(Command::SetBudget { dataset, budget }, |state| {
                state.ledger(dataset).is_some_and(|l| l.budget() == budget)
            })
            .await?;
        let view = self
            .gateway
            .read(|state| state.ledger(dataset).map(|l| budget_view(dataset, l)))?
            .ok_or_else(|| no_budget(dataset))?;
        tracing::info!(%dataset, epsilon = budget.epsilon, delta = budget.delta, by = %caller.subject, "privacy budget set");
        Ok(Response::new(v1::SetBudgetResponse { budget: Some(view) }))
    }

    async fn get_budget(
        &self,
        request: Request<v1::GetBudgetRequest>,
    ) -> Result<Response<v1::GetBudgetResponse>, Status> {
        let caller = caller(&request)?;
        let dataset: DatasetId = parse_id("dataset_id", &request.get_ref().dataset_id)?;
        self.gateway.dataset_for(&caller, dataset).await?;
        let view = self
            .gateway
            .read(|state| state.ledger(dataset).map(|l| budget_view(dataset, l)))?
            .ok_or_else(|| no_budget(dataset))?;
        Ok(Response::new(v1::GetBudgetResponse { budget: Some(view) }))
    }

    async fn list_ledger_events(
        &self,
        request: Request<v1::ListLedgerEventsRequest>,
    ) -> Result<Response<v1::ListLedgerEventsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let dataset: DatasetId = parse_id("dataset_id", &request.dataset_id)?;
        self.gateway.dataset_for(&caller, dataset).await?;
        let events = self
            .gateway
            .read(|state| {
                state.ledger(dataset).map(|l| {
                    l.log()
                        .iter()
                        .map(|e| event_view(dataset, e))
                        .collect::<Vec<_>>()
                })
            })?
            .ok_or_else(|| no_budget(dataset))?;
        let (events, next_page_token) = paging::page(events, request.page.as_ref())?;
        Ok(Response::new(v1::ListLedgerEventsResponse {
            events,
            next_page_token,
        }))
    }
}
