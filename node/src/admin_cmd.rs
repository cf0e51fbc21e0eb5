//! `mirage admin create-key|revoke-key`: manage API keys through a running cluster, and
//! the bootstrap key a new cluster gets.
//!
//! The commands read a node's config (its address, its peers', `[tls]`) and write through
//! the cluster's internal Raft service with the cluster secret (`MIRAGE_CLUSTER_SECRET` or
//! the file's `cluster_secret`), forwarded to the leader like any node's write. A new key
//! is printed once, alone on stdout, so scripts can capture it; everything else goes to
//! stderr.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use mirage_actors::{Command, Outcome, Role, StateClient, hash_api_key};
use mirage_core::TenantId;
use mirage_core::config::NodeConfig;

use crate::cluster::{Members, RaftStateClient, RetryPolicy};
use crate::gateway::auth::{default_tenant, generate_api_key, looks_like_api_key};
use crate::node_cmd::SECRET_VARIABLE;
use crate::raft::{ClusterSecret, GrpcTransport};

/// How long an admin command keeps trying to reach the cluster's leader.
const ADMIN_DEADLINE: Duration = Duration::from_secs(15);

/// The file under the data directory holding the bootstrap key (mode 0600).
pub const BOOTSTRAP_KEY_FILE: &str = "bootstrap-key";

/// Which tenant a new key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantChoice {
    /// An existing (or, with a name, new) tenant id.
    Id(TenantId),
    /// A fresh id, created with the given name.
    New,
}

/// Parses `--tenant`: `tnt_…`, a UUID, `default` (the tenant of the bootstrap key) or
/// `new`.
pub fn parse_tenant(text: &str) -> Result<TenantChoice, String> {
    match text.trim() {
        "new" => Ok(TenantChoice::New),
        "default" => Ok(TenantChoice::Id(default_tenant())),
        other => other
            .parse::<TenantId>()
            .map(TenantChoice::Id)
            .map_err(|_| {
                format!("{other:?} is not a tenant id: use tnt_…, a UUID, `default` or `new`")
            }),
    }
}

/// Parses `--role`.
pub fn parse_role(text: &str) -> Result<Role, String> {
    text.parse()
}

/// What `create-key` was asked for.
#[derive(Debug, Clone)]
pub struct CreateKey {
    /// The tenant.
    pub tenant: TenantChoice,
    /// The key's role.
    pub role: Role,
    /// The key's label.
    pub label: String,
    /// Create the tenant with this name (needed with `--tenant new`).
    pub tenant_name: Option<String>,
}

/// `mirage admin create-key`: returns the new key (the caller prints it).
pub fn run_create_key(config_file: &Path, request: CreateKey) -> anyhow::Result<String> {
    if request.tenant == TenantChoice::New && request.tenant_name.is_none() {
        bail!("--tenant new needs --tenant-name NAME for the new tenant");
    }
    let (config, secret) = load(config_file)?;
    block_on(async move {
        let client = connect(&config, &secret)?;
        let tenant = match request.tenant {
            TenantChoice::Id(id) => id,
            TenantChoice::New => {
                let id = TenantId::new();
                eprintln!("created tenant {id}");
                id
            }
        };
        if let Some(name) = &request.tenant_name {
            apply(
                &client,
                Command::CreateTenant {
                    id: tenant,
                    name: name.clone(),
                },
            )
            .await
            .with_context(|| format!("creating tenant {tenant} named {name:?}"))?;
        }
        let key = generate_api_key();
        apply(&client, Command::AddApiKey {
            tenant,
            key_hash: hash_api_key(&key),
            label: request.label.clone(),
            role: request.role,
        })
        .await
        .with_context(|| {
            format!(
                "adding a key to tenant {tenant} (create the tenant with --tenant-name NAME if it does not exist)"
            )
        })?;
        eprintln!(
            "created {} key {:?} for tenant {tenant} (shown once)",
            request.role, request.label
        );
        Ok(key)
    })
}

/// `mirage admin revoke-key`.
pub fn run_revoke_key(config_file: &Path, key: &str) -> anyhow::Result<()> {
    let key = key.trim();
    if !looks_like_api_key(key) {
        bail!("--key must be an API key as printed (mk_ followed by 64 hex digits)");
    }
    let (config, secret) = load(config_file)?;
    let hash = hash_api_key(key);
    block_on(async move {
        let client = connect(&config, &secret)?;
        let outcome = apply(
            &client,
            Command::RevokeApiKey {
                key_hash: hash.clone(),
            },
        )
        .await?;
        match outcome {
            Outcome::Unchanged => eprintln!("key {} was not known (already revoked?)", &hash[..8]),
            _ => eprintln!("revoked key {}", &hash[..8]),
        }
        Ok(())
    })
}

/// The config and the cluster secret (`MIRAGE_CLUSTER_SECRET` wins over the file).
fn load(file: &Path) -> anyhow::Result<(NodeConfig, ClusterSecret)> {
    let config = crate::config::load(Some(file), |name| std::env::var(name).ok())?;
    let secret = std::env::var(SECRET_VARIABLE)
        .ok()
        .or_else(|| config.cluster_secret.clone())
        .with_context(|| {
            format!(
                "no cluster secret: set {SECRET_VARIABLE} (or cluster_secret in {}) to the secret the nodes share",
                file.display()
            )
        })?;
    let secret = ClusterSecret::new(&secret).with_context(|| SECRET_VARIABLE.to_string())?;
    Ok((config, secret))
}

fn block_on<T>(work: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(work)
}

/// A state client reaching every member named in `config` remotely.
fn connect(config: &NodeConfig, secret: &ClusterSecret) -> anyhow::Result<RaftStateClient> {
    let tls = crate::gateway::auth::tls::client_config(&config.tls)?;
    let transport = GrpcTransport::with_tls(secret.clone(), tls);
    let members = Members::new();
    let mut all = vec![(config.node_id, config.grpc_addr)];
    all.extend(
        config
            .peers
            .iter()
            .map(|peer| (peer.node_id, peer.grpc_addr)),
    );
    for (id, address) in all {
        members
            .insert_remote_via(id, &address.to_string(), transport.clone())
            .with_context(|| format!("node {id} at {address}"))?;
    }
    Ok(RaftStateClient::new(
        config.node_id,
        members,
        RetryPolicy {
            deadline: ADMIN_DEADLINE,
            ..RetryPolicy::default()
        },
    ))
}

/// Applies `command`, turning a refusal or an unreachable cluster into an error.
async fn apply(client: &dyn StateClient, command: Command) -> anyhow::Result<Outcome> {
    match client.apply(command).await {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(refusal)) => Err(anyhow::Error::new(refusal)),
        Err(error) => Err(anyhow::Error::new(error).context(
            "cannot reach the cluster: check that its nodes run and the secret is theirs",
        )),
    }
}

/// On a new cluster: creates the default tenant and an admin key for it, prints the key
/// once to stderr and writes it to `<data_dir>/bootstrap-key` (mode 0600).
pub async fn create_bootstrap_key(
    client: Arc<dyn StateClient>,
    data_dir: &Path,
) -> anyhow::Result<()> {
    apply(
        &*client,
        Command::CreateTenant {
            id: default_tenant(),
            name: "default".into(),
        },
    )
    .await
    .context("creating the default tenant")?;
    let key = generate_api_key();
    apply(
        &*client,
        Command::AddApiKey {
            tenant: default_tenant(),
            key_hash: hash_api_key(&key),
            label: "bootstrap".into(),
            role: Role::Admin,
        },
    )
    .await
    .context("adding the bootstrap key")?;
    let path = data_dir.join(BOOTSTRAP_KEY_FILE);
    write_secret_file(&path, &format!("{key}\n"))
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "bootstrap API key (shown once): {key}\n(also in {}; create others with `mirage admin create-key`)",
        path.display()
    );
    Ok(())
}

/// Writes `text` to a new file only its owner can read.
fn write_secret_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_and_roles_parse_or_say_what_is_accepted() {
        assert_eq!(parse_tenant("new"), Ok(TenantChoice::New));
        assert_eq!(
            parse_tenant("default"),
            Ok(TenantChoice::Id(default_tenant()))
        );
        let id = TenantId::from_uuid(uuid::Uuid::from_u128(5));
        assert_eq!(parse_tenant(&id.to_string()), Ok(TenantChoice::Id(id)));
        let error = parse_tenant("acme").expect_err("a name");
        assert!(error.contains("tnt_"), "{error}");
        assert_eq!(parse_role("Operator"), Ok(Role::Operator));
        assert!(
            parse_role("root")
                .expect_err("bad")
                .contains("admin, operator or analyst")
        );
    }

    #[test]
    fn bad_requests_fail_before_touching_the_cluster() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("none.toml");
        let error = run_create_key(
            &missing,
            CreateKey {
                tenant: TenantChoice::New,
                role: Role::Admin,
                label: "x".into(),
                tenant_name: None,
            },
        )
        .expect_err("no name");
        assert!(error.to_string().contains("--tenant-name"), "{error}");
        let error = run_create_key(
            &missing,
            CreateKey {
                tenant: TenantChoice::Id(default_tenant()),
                role: Role::Admin,
                label: "x".into(),
                tenant_name: None,
            },
        )
        .expect_err("no config");
        assert!(format!("{error:#}").contains("none.toml"), "{error:#}");
        let error = run_revoke_key(&missing, "hunter2").expect_err("not a key");
        assert!(error.to_string().contains("mk_"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn the_bootstrap_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(BOOTSTRAP_KEY_FILE);
        write_secret_file(&path, "mk_x\n").expect("write");
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_bootstrap_key_authenticates_as_admin_of_the_default_tenant() -> anyhow::Result<()>
    {
        let test = crate::gateway::testing::TestGateway::start().await?;
        let data = tempfile::tempdir()?;
        create_bootstrap_key(Arc::clone(test.gateway.client()), data.path()).await?;
        let key = std::fs::read_to_string(data.path().join(BOOTSTRAP_KEY_FILE))?;
        let found = test
            .gateway
            .read(|state| state.authenticate(key.trim()).cloned())?
            .expect("the key is known");
        assert_eq!((found.tenant, found.role), (default_tenant(), Role::Admin));
        test.stop().await
    }
}
