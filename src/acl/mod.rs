//! Users and authentication.
//!
//! For now there is the `default` user, whose password is `requirepass`.
//! The tenancy issue grows this into Redis 7 ACLs with database pinning: the
//! permission check hooks into dispatch at [`Acl::check`], and clients hold
//! an `Arc<User>` so rules can change under them.

use std::sync::Arc;

use parking_lot::RwLock;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::commands::table::Command;

#[derive(Debug)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// SHA-256 digests of the accepted passwords.
    passwords: Vec<[u8; 32]>,
}

impl User {
    fn with_password(name: &str, password: Option<&str>) -> User {
        User {
            name: name.to_string(),
            enabled: true,
            nopass: password.is_none(),
            passwords: password
                .map(|p| vec![digest(p.as_bytes())])
                .into_iter()
                .flatten()
                .collect(),
        }
    }

    /// Constant-time check against every stored digest.
    pub fn password_ok(&self, password: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let d = digest(password);
        let mut ok = subtle::Choice::from(0u8);
        for p in &self.passwords {
            ok |= p.ct_eq(&d);
        }
        ok.into()
    }
}

fn digest(p: &[u8]) -> [u8; 32] {
    Sha256::digest(p).into()
}

pub struct Acl {
    default: RwLock<Arc<User>>,
}

/// Why a command was refused by the permission check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Command,
    Key,
    Channel,
    Database,
}

impl Acl {
    pub fn new(requirepass: Option<&str>) -> Acl {
        Acl {
            default: RwLock::new(Arc::new(User::with_password("default", requirepass))),
        }
    }

    pub fn default_user(&self) -> Arc<User> {
        self.default.read().clone()
    }

    /// Whether a new connection starts authenticated (default user, nopass).
    pub fn default_is_open(&self) -> bool {
        let u = self.default.read();
        u.enabled && u.nopass
    }

    /// Replaces the default user's password (CONFIG SET requirepass).
    pub fn set_requirepass(&self, requirepass: Option<&str>) {
        *self.default.write() = Arc::new(User::with_password("default", requirepass));
    }

    /// AUTH / HELLO AUTH. `None` when the pair does not match an enabled user.
    pub fn authenticate(&self, user: &[u8], password: &[u8]) -> Option<Arc<User>> {
        if user != b"default" {
            return None;
        }
        let u = self.default_user();
        (u.enabled && u.password_ok(password)).then_some(u)
    }

    /// The permission gate in dispatch. Every user may run everything until
    /// ACL rules exist.
    #[inline]
    pub fn check(
        &self,
        _user: &User,
        _cmd: &Command,
        _argv: &[&[u8]],
        _db: usize,
    ) -> Result<(), Denied> {
        Ok(())
    }
}
