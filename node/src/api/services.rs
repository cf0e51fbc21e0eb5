//! The public services of a node, built over one [`Gateway`], ready to add to a tonic
//! server. Each is wrapped so the [`Caller`] the authentication layer recorded reaches it.

use mirage_proto::v1::dataset_service_server::DatasetServiceServer;
use mirage_proto::v1::generation_service_server::GenerationServiceServer;
use mirage_proto::v1::job_service_server::JobServiceServer;
use mirage_proto::v1::model_service_server::ModelServiceServer;
use mirage_proto::v1::privacy_service_server::PrivacyServiceServer;
use mirage_proto::v1::quality_service_server::QualityServiceServer;

use super::{DatasetApi, GenerationApi, JobApi, ModelApi, PrivacyApi, QualityApi};
use crate::gateway::Gateway;
use crate::gateway::serving::ModelCache;

/// The most bytes one message may hold (generous: reports and row batches).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Builds the public services of one node.
#[derive(Debug, Clone)]
pub struct PublicServices {
    gateway: Gateway,
    cache: ModelCache,
}

impl PublicServices {
    /// The services over `gateway`, with `cache` keeping models warm for streaming.
    pub fn new(gateway: Gateway, cache: ModelCache) -> Self {
        Self { gateway, cache }
    }

    /// `JobService`.
    pub fn jobs(&self) -> JobServiceServer<JobApi> {
        JobServiceServer::new(JobApi::new(self.gateway.clone()))
    }

    /// `DatasetService`.
    pub fn datasets(&self) -> DatasetServiceServer<DatasetApi> {
        DatasetServiceServer::new(DatasetApi::new(self.gateway.clone()))
    }

    /// `GenerationService`.
    pub fn generations(&self) -> GenerationServiceServer<GenerationApi> {
        GenerationServiceServer::new(GenerationApi::new(self.gateway.clone(), self.cache.clone()))
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// `ModelService`.
    pub fn models(&self) -> ModelServiceServer<ModelApi> {
        ModelServiceServer::new(ModelApi::new(self.gateway.clone()))
    }

    /// `QualityService`.
    pub fn quality(&self) -> QualityServiceServer<QualityApi> {
        QualityServiceServer::new(QualityApi::new(self.gateway.clone()))
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// `PrivacyService`.
    pub fn privacy(&self) -> PrivacyServiceServer<PrivacyApi> {
        PrivacyServiceServer::new(PrivacyApi::new(self.gateway.clone()))
    }
}
