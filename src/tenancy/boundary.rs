//! The tenant boundary: what a DB-restricted user (`db=` without `alldbs`
//! in every selector) may do beyond its command rules. The command table
//! says it per row ([`Tenant`]); this is the one place that reads it.
//! Handlers of `Own` and `Check` rows narrow what they show or touch with
//! [`User::sees_db`](crate::acl::User::sees_db) and the user's name.

use crate::commands::spec::Tenant;
use crate::commands::table::Command;
use crate::commands::Ctx;

/// Whether the row lets a DB-restricted user run the command with these
/// arguments. Only called for restricted users (never on the fast path).
pub fn allows(ctx: &Ctx<'_>, cmd: &Command, argv: &[&[u8]]) -> bool {
    match cmd.spec.tenant_scope() {
        Tenant::Db | Tenant::Own => true,
        Tenant::Server => false,
        Tenant::Check(f) => f(ctx, argv),
    }
}
