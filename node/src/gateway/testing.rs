//! An in-process gateway for tests: a one-member cluster whose node runs the real job
//! runners over an object store in a temporary directory.

use std::sync::Arc;

use mirage_actors::{Command, Role};
use mirage_core::TenantId;

use super::{Caller, Gateway};
use crate::embedded::EmbeddedCluster;
use crate::jobs::catalog::Catalog;
use crate::jobs::{NodeJobRunner, ObjectStorage};

/// A running one-member cluster and its gateway. Shut it down with [`TestGateway::stop`].
pub struct TestGateway {
    /// The gateway over it.
    pub gateway: Gateway,
    /// The cluster.
    pub cluster: EmbeddedCluster,
    /// Holds the object store and the node's scratch space.
    pub dir: tempfile::TempDir,
}

impl std::fmt::Debug for TestGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestGateway")
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

/// A tenant id for tests.
pub fn tenant(n: u128) -> TenantId {
    TenantId::from_uuid(uuid::Uuid::from_u128(n))
}

impl TestGateway {
    /// Starts the cluster (local paths allowed in job payloads) and its gateway.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let objects = dir.path().join("objects");
        std::fs::create_dir_all(&objects)?;
        let url = format!("file://{}", objects.display());
        let storage = ObjectStorage::open(&url, tokio::runtime::Handle::current())?;
        let catalog = Catalog::unconnected(tokio::runtime::Handle::current());
        let runner = Arc::new(
            NodeJobRunner::new(storage.clone(), &dir.path().join("node"))
                .with_local_paths(true)
                .with_catalog(catalog.clone()),
        );
        let cluster = EmbeddedCluster::start(Some(&dir.path().join("state")), runner).await?;
        catalog.connect(cluster.state_client());
        let gateway = cluster.gateway(storage);
        Ok(Self {
            gateway,
            cluster,
            dir,
        })
    }

    /// Creates tenant `n` (named `tenant-n`) and returns a caller of it with `role`.
    pub async fn caller(&self, n: u128, role: Role) -> anyhow::Result<Caller> {
        self.gateway
            .apply(Command::CreateTenant {
                id: tenant(n),
                name: format!("tenant-{n}"),
            })
            .await?;
        Ok(Caller::new(
            tenant(n),
            role,
            format!("test {role} of tenant {n}"),
        ))
    }

    /// Stops the cluster.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.cluster.shutdown().await
    }
}

/// A request carrying `caller`, as the authentication layer would pass it on.
pub fn request<T>(caller: &Caller, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.extensions_mut().insert(caller.clone());
    request
}

/// The first `rows` rows of the committed Adult demo data as a CSV file in `dir`.
pub fn adult_sample(dir: &std::path::Path, rows: usize) -> anyhow::Result<std::path::PathBuf> {
    use std::io::{BufRead, Write};
    let gz = crate::demo::adult_path()?;
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(&gz)?));
    let path = dir.join(format!("adult-{rows}.csv"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for line in reader.lines().take(rows + 1) {
        writeln!(out, "{}", line?)?;
    }
    out.flush()?;
    Ok(path)
}

/// Waits (up to `timeout`) until job `id` ends and returns its final state.
pub async fn wait_for_job(
    gateway: &Gateway,
    id: mirage_core::JobId,
    timeout: std::time::Duration,
) -> anyhow::Result<mirage_actors::JobState> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let state = gateway.read(|s| s.job(id).map(|j| j.state.clone()))?;
        if let Some(state) = state
            && state.is_terminal()
        {
            return Ok(state);
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "job {id} did not end within {timeout:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_test_gateway_starts_and_writes() -> anyhow::Result<()> {
        let test = TestGateway::start().await?;
        let caller = test.caller(7, Role::Admin).await?;
        let known = test
            .gateway
            .read(|state| state.tenants().contains_key(&caller.tenant))?;
        assert!(known);
        test.stop().await
    }
}
