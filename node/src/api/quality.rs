//! `QualityService`: a generation's quality report as JSON (with its headline numbers and
//! per-column scores) and as a self-contained HTML page.

use mirage_actors::QualityReport;
use mirage_core::ReportId;
use mirage_proto::v1;
use mirage_proto::v1::quality_service_server::QualityService;
use tonic::{Request, Response, Status};

use crate::gateway::access::parse_id;
use crate::gateway::{Gateway, caller, status};

/// The quality service of one node.
#[derive(Debug, Clone)]
pub struct QualityApi {
    gateway: Gateway,
}

impl QualityApi {
    /// The service over `gateway`.
    pub fn new(gateway: Gateway) -> Self {
        Self { gateway }
    }

    async fn fetch(&self, key: String) -> Result<Vec<u8>, Status> {
        let storage = self.gateway.storage().clone();
        tokio::task::spawn_blocking(move || storage.get_bytes(&key))
            .await
            .map_err(|error| status::internal(format!("reading a report failed: {error}")))?
            .map_err(|error| status::internal(format!("cannot read the stored report: {error}")))
    }
}

/// The headline numbers and per-column scores of a stored assessment (its JSON).
pub fn summarize(
    report: &QualityReport,
    json: &serde_json::Value,
) -> (v1::QualitySummary, Vec<v1::ColumnScore>) {
    let fidelity = &json["fidelity"];
    let number = |value: &serde_json::Value| value.as_f64().unwrap_or(0.0);
    let summary = v1::QualitySummary {
        id: report.spec.id.to_string(),
        generation_id: report.spec.generation.to_string(),
        overall: report.spec.overall,
        column_shapes: number(&fidelity["column_shapes"]["score"]),
        column_pair_trends: number(&fidelity["column_pair_trends"]["score"]),
        gate_passed: report.spec.gate_passed,
    };
    let columns = fidelity["column_shapes"]["columns"]
        .as_array()
        .map(|columns| {
            columns
                .iter()
                .map(|c| v1::ColumnScore {
                    column: c["column"].as_str().unwrap_or_default().to_owned(),
                    metric: c["metric"].as_str().unwrap_or_default().to_owned(),
                    score: number(&c["score"]),
                })
                .collect()
        })
        .unwrap_or_default();
    (summary, columns)
}

#[tonic::async_trait]
impl QualityService for QualityApi {
    async fn get_report(
        &self,
        request: Request<v1::GetReportRequest>,
    ) -> Result<Response<v1::GetReportResponse>, Status> {
        let caller = caller(&request)?;
        let id: ReportId = parse_id("report_id", &request.get_ref().report_id)?;
        let report = self.gateway.report_for(&caller, id).await?;
        let bytes = self.fetch(report.spec.url.clone()).await?;
        let json: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|error| status::internal(format!("the stored report is not JSON: {error}")))?;
        let (summary, column_scores) = summarize(&report, &json);
        let report_json = String::from_utf8(bytes)
            .map_err(|_| status::internal("the stored report is not UTF-8"))?;
        Ok(Response::new(v1::GetReportResponse {
            summary: Some(summary),
            column_scores,
            report_json,
        }))
    }

    async fn get_report_html(
        &self,
        request: Request<v1::GetReportHtmlRequest>,
    ) -> Result<Response<v1::GetReportHtmlResponse>, Status> {
        let caller = caller(&request)?;
        let id: ReportId = parse_id("report_id", &request.get_ref().report_id)?;
        let report = self.gateway.report_for(&caller, id).await?;
        let key = report
            .spec
            .url
            .strip_suffix("report.json")
            .map(|prefix| format!("{prefix}report.html"))
            .ok_or_else(|| {
                status::not_found(format!(
                    "report {id} has no HTML page (it was stored as {})",
                    report.spec.url
                ))
            })?;
        let html = self.fetch(key).await?;
        Ok(Response::new(v1::GetReportHtmlResponse { html }))
    }
}
