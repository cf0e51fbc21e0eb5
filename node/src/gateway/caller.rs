//! Who is calling: the tenant and role an authenticated request acts for.
//!
//! The authentication layer puts a [`Caller`] into every public request's extensions; the
//! services take it out with [`caller`] and check it with [`Caller::require`]. A request
//! that reached a service without one was not authenticated (a wiring bug, or a test that
//! skipped the layer) and is refused as `UNAUTHENTICATED`.

use mirage_actors::Role;
use mirage_core::TenantId;
use tonic::Status;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The tenant it acts for: it sees and touches only that tenant's objects.
    pub tenant: TenantId,
    /// What it may do there.
    pub role: Role,
    /// Who it is, for logs and audit: an API key's label and hash prefix, or a token's
    /// subject.
    pub subject: String,
    /// Whether the cluster secret authenticated it (another member, or an operator's tool
    /// on a member's machine); only [`Caller::cluster`] sets it.
    pub cluster: bool,
}

/// The subject of a caller authenticated by the cluster secret: another member, or an
/// operator's tool on a member's machine.
pub const CLUSTER_SUBJECT: &str = "cluster secret";

/// What an operation needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any role: reads.
    Read,
    /// Operator or admin: starting, stopping and deleting work and data.
    Write,
    /// Admin: budgets, keys, releasing a failed quality gate.
    Admin,
}

impl Caller {
    /// A caller for `tenant` with `role`.
    pub fn new(tenant: TenantId, role: Role, subject: impl Into<String>) -> Self {
        Self {
            tenant,
            role,
            subject: subject.into(),
            cluster: false,
        }
    }

    /// The caller the cluster secret authenticates: the cluster's own tenant, as admin.
    pub fn cluster() -> Self {
        Self {
            cluster: true,
            ..Self::new(
                TenantId::from_uuid(uuid::Uuid::nil()),
                Role::Admin,
                CLUSTER_SUBJECT,
            )
        }
    }

    /// Refuses with `PERMISSION_DENIED` unless the caller's role allows `need`; `action`
    /// names the operation in the message.
    pub fn require(&self, need: Need, action: &str) -> Result<(), Status> {
        let allowed = match need {
            Need::Read => true,
            Need::Write => self.role.can_write(),
            Need::Admin => self.role.is_admin(),
        };
        if allowed {
            return Ok(());
        }
        let wanted = match need {
            Need::Read => "any role",
            Need::Write => "the operator or admin role",
            Need::Admin => "the admin role",
        };
        Err(Status::permission_denied(format!(
            "{action} needs {wanted}; this caller ({}) is {}: use a key or token with that role",
            self.subject, self.role
        )))
    }

    /// Whether the caller's tenant owns an object of `owner`.
    pub fn owns(&self, owner: TenantId) -> bool {
        self.tenant == owner
    }
}

/// The caller of `request`, as the authentication layer recorded it.
pub fn caller<T>(request: &tonic::Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| {
            Status::unauthenticated(
                "this request carries no credentials: send an API key in `x-api-key` or a bearer \
             token in `authorization`",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(n: u128) -> TenantId {
        TenantId::from_uuid(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn roles_allow_what_they_should() {
        let analyst = Caller::new(tenant(1), Role::Analyst, "key ci");
        let operator = Caller::new(tenant(1), Role::Operator, "key ops");
        let admin = Caller::new(tenant(1), Role::Admin, "key root");
        assert!(analyst.require(Need::Read, "listing datasets").is_ok());
        let refused = analyst
            .require(Need::Write, "deleting a dataset")
            .expect_err("analysts only read");
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert!(refused.message().contains("deleting a dataset"));
        assert!(refused.message().contains("analyst"));
        assert!(operator.require(Need::Write, "training").is_ok());
        assert!(operator.require(Need::Admin, "setting a budget").is_err());
        assert!(admin.require(Need::Admin, "setting a budget").is_ok());
        assert!(admin.owns(tenant(1)));
        assert!(!admin.owns(tenant(2)));
    }

    #[test]
    fn a_request_without_a_caller_is_unauthenticated() {
        let request = tonic::Request::new(());
        let refused = caller(&request).expect_err("no caller recorded");
        assert_eq!(refused.code(), tonic::Code::Unauthenticated);
        let mut request = tonic::Request::new(());
        request
            .extensions_mut()
            .insert(Caller::new(tenant(3), Role::Admin, "t"));
        assert_eq!(caller(&request).expect("recorded").tenant, tenant(3));
    }
}
