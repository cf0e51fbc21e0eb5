//! Tenants and their API keys. A key is stored (and replicated) only as its SHA-256, so
//! neither the Raft log nor a snapshot reveals one.

use mirage_core::TenantId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ClusterState;
use super::outcome::{Outcome, Response};
use crate::error::StateError;

/// A tenant: the owner of datasets, models, jobs and budgets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Its display name.
    pub name: String,
    /// When it was created.
    pub created_at_ms: u64,
}

/// What a caller may do within its tenant.
///
/// - `Admin`: everything, including budgets, API keys and releasing a failed quality gate.
/// - `Operator`: creates and deletes datasets, trains, generates and cancels jobs.
/// - `Analyst`: reads only (lists, reports, rows of generations that passed their gate).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads only.
    #[default]
    Analyst,
    /// Reads and runs work.
    Operator,
    /// Everything.
    Admin,
}

impl Role {
    /// The role's name as written in configs, claims and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Role::Analyst => "analyst",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Whether the role may start and stop work and change datasets.
    pub fn can_write(self) -> bool {
        self >= Role::Operator
    }

    /// Whether the role may administer the tenant (budgets, keys, gate releases).
    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "analyst" => Ok(Role::Analyst),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "{other:?} is not a role (expected admin, operator or analyst)"
            )),
        }
    }
}

/// An API key, known by its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Hex SHA-256 of the key.
    pub key_hash: String,
    /// The tenant it authenticates.
    pub tenant: TenantId,
    /// A name for the key.
    pub label: String,
    /// What the key may do.
    #[serde(default)]
    pub role: Role,
    /// When it was added.
    pub created_at_ms: u64,
}

/// The hex SHA-256 of an API key: what [`super::Command::AddApiKey`] carries and what
/// [`ClusterState::authenticate`] looks up.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn check_key_hash(key_hash: &str) -> Result<(), StateError> {
    let is_hex = key_hash
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if key_hash.len() != 64 || !is_hex {
        return Err(StateError::invalid(
            "key_hash",
            "expected the key's SHA-256 as 64 lowercase hex digits (see hash_api_key), never the key itself",
        ));
    }
    Ok(())
}

impl ClusterState {
    pub(super) fn create_tenant(&mut self, id: TenantId, name: String) -> Response {
        if name.trim().is_empty() {
            return Err(StateError::invalid("name", "a tenant needs a name"));
        }
        if let Some(tenant) = self.tenants.get(&id) {
            return if tenant.name == name {
                Ok(Outcome::Unchanged)
            } else {
                Err(StateError::conflict("tenant", id, "name"))
            };
        }
        let now = self.clock_ms;
        self.tenants.insert(
            id,
            Tenant {
                id,
                name,
                created_at_ms: now,
            },
        );
        Ok(Outcome::Applied)
    }

    pub(super) fn add_api_key(
        &mut self,
        tenant: TenantId,
        key_hash: String,
        label: String,
        role: Role,
    ) -> Response {
        check_key_hash(&key_hash)?;
        if !self.tenants.contains_key(&tenant) {
            return Err(StateError::UnknownTenant { tenant });
        }
        if let Some(key) = self.api_keys.get(&key_hash) {
            return if key.tenant == tenant && key.label == label && key.role == role {
                Ok(Outcome::Unchanged)
            } else {
                let field = if key.tenant != tenant {
                    "tenant"
                } else if key.label != label {
                    "label"
                } else {
                    "role"
                };
                Err(StateError::conflict("api key", &key_hash[..8], field))
            };
        }
        let now = self.clock_ms;
        self.api_keys.insert(
            key_hash.clone(),
            ApiKey {
                key_hash,
                tenant,
                label,
                role,
                created_at_ms: now,
            },
        );
        Ok(Outcome::Applied)
    }

    pub(super) fn revoke_api_key(&mut self, key_hash: &str) -> Response {
        check_key_hash(key_hash)?;
        Ok(match self.api_keys.remove(key_hash) {
            Some(_) => Outcome::Applied,
            None => Outcome::Unchanged,
        })
    }
}
