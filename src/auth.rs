//! Staff users, roles, passwords and sessions.
//!
//! Passwords are hashed with Argon2id. A session token is 256 random bits handed to the client
//! once; the store keeps only its SHA-256. Sign-in failures are counted per typed name (existing
//! or not), and a name that fails too often is locked for a while, longer each time. An unknown
//! name costs the same hash verification as a wrong password, so the answer and its timing do
//! not tell which names exist.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::audit::{self, Action, Event};
use crate::policy::Principal;
use crate::store::{Store, StoreError};

/// Shortest password accepted for a new user or a password change.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest user name.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest department name (京都市行財政局総務部総務課… fits several times over).
pub const MAX_DEPARTMENT_CHARS: usize = 100;
/// Longest role description.
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// The role that manages users and reads the audit log.
pub const ADMIN_ROLE: &str = "admin";

/// Wall-clock seconds, replaceable in tests so expiry can be checked without waiting.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A clock that only moves when told to.
    pub fn manual(start: i64) -> Clock {
        Clock::Manual(Arc::new(AtomicI64::new(start)))
    }

    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        match self {
            Clock::System => chrono::Utc::now().timestamp(),
            Clock::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; the system clock ignores this.
    pub fn advance(&self, secs: i64) {
        if let Clock::Manual(t) = self {
            t.fetch_add(secs, Ordering::SeqCst);
        }
    }
}

/// How sessions and sign-in throttling behave.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Lifetime of a session from sign-in.
    pub session_secs: i64,
    /// Failed sign-ins in a row after which the name is locked.
    pub max_failures: u32,
    /// First lock duration; each further failure after a lock doubles it (up to a day).
    pub lockout_secs: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            session_secs: 8 * 3600,
            max_failures: 5,
            lockout_secs: 15 * 60,
        }
    }
}

/// A problem managing users or sessions. Messages are for the administrator who asked.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "user name \"{0}\": use 1 to {MAX_NAME_CHARS} of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
    )]
    InvalidName(String),
    #[error("password: {0}")]
    WeakPassword(String),
    #[error("role \"{0}\" does not exist (create it first with `machimap role add`)")]
    UnknownRole(String),
    #[error("role name \"{0}\": use 1 to 32 of a-z, 0-9, '_' or '-', starting with a letter")]
    InvalidRole(String),
    #[error("user \"{0}\" already exists")]
    UserExists(String),
    #[error("user \"{0}\" does not exist")]
    NoSuchUser(String),
    #[error("department must not be empty")]
    NoDepartment,
    #[error("{0}")]
    InvalidText(String),
    #[error("role \"{0}\" already exists")]
    RoleExists(String),
    #[error("this would leave no user with the admin role")]
    LastAdmin,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a sign-in was refused. `Invalid` is the same for an unknown name and a wrong password.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("user name or password is wrong")]
    Invalid,
    #[error("too many failed sign-ins for this user name; try again in {retry_after} s")]
    Locked { retry_after: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A staff user as stored (never with the password hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub name: String,
    pub department: String,
    pub roles: BTreeSet<String>,
}

impl User {
    /// The principal this user acts as.
    pub fn principal(&self) -> Principal {
        Principal::Staff {
            user: self.name.clone(),
            department: self.department.clone(),
            roles: self.roles.clone(),
        }
    }
}

/// A session just opened: the only time the token exists in clear outside the client.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub session: Session,
}

/// A live session found by its token.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    /// Must accompany writes made with the session cookie (`X-CSRF-Token`).
    pub csrf_token: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Who performs a management action, for the audit log.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub name: &'a str,
    pub client: &'a str,
}

/// Users, roles and sessions over the store.
pub struct Auth {
    store: Arc<Store>,
    clock: Clock,
    policy: Policy,
    /// Verified against when the name is unknown, so that costs what a wrong password costs.
    dummy_hash: String,
}

impl Auth {
    pub fn new(store: Arc<Store>, clock: Clock, policy: Policy) -> Result<Auth, AuthError> {
        let dummy_hash = hash_password(&random_token())?;
        Ok(Auth {
            store,
            clock,
            policy,
            dummy_hash,
        })
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Appends an audit event stamped with this service's clock.
    pub fn audit(&self, event: &Event<'_>) -> Result<(), StoreError> {
        audit::append(&self.store, self.clock.now(), event)
    }

    /// Creates a user. Every role must exist.
    pub fn add_user(
        &self,
        actor: Actor<'_>,
        name: &str,
        department: &str,
        roles: &[String],
        password: &str,
    ) -> Result<User, AuthError> {
        let name = valid_name(name)?;
        let department = department.trim();
        if department.is_empty() {
            return Err(AuthError::NoDepartment);
        }
        crate::text::check_stored(department, MAX_DEPARTMENT_CHARS)
            .map_err(|m| AuthError::InvalidText(format!("department: {m}")))?;
        check_password(password)?;
        let hash = hash_password(password)?;
        let roles = role_set(roles);
        let now = self.clock.now();
        self.store.with(|c| {
            let tx = c.transaction()?;
            let exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM user WHERE name = ?1)",
                [&name],
                |r| r.get(0),
            )?;
            if exists {
                return Ok(Err(AuthError::UserExists(name.clone())));
            }
            tx.execute(
                "INSERT INTO user (name, department, password_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![name, department, hash, now],
            )?;
            // On an unknown role the transaction is dropped: the user is not created either.
            if let Err(e) = replace_roles(&tx, tx.last_insert_rowid(), &roles)? {
                return Ok(Err(e));
            }
            let detail = format!("department={department} roles={}", join(&roles));
            append_in(&tx, now, actor, Action::UserCreated, &name, &detail)?;
            tx.commit()?;
            Ok(Ok(()))
        })??;
        Ok(User {
            name,
            department: department.to_string(),
            roles,
        })
    }

    /// Replaces a user's roles. Takes effect on the user's next request.
    pub fn set_roles(
        &self,
        actor: Actor<'_>,
        name: &str,
        roles: &[String],
    ) -> Result<User, AuthError> {
        let name = valid_name(name)?;
        let roles = role_set(roles);
        let now = self.clock.now();
        self.store.with(|c| {
            let tx = c.transaction()?;
            let Some((id, department)) = user_row(&tx, &name)? else {
                return Ok(Err(AuthError::NoSuchUser(name.clone())));
            };
            if let Err(e) = replace_roles(&tx, id, &roles)? {
                return Ok(Err(e));
            }
            if admin_count(&tx)? == 0 {
                return Ok(Err(AuthError::LastAdmin));
            }
            append_in(
                &tx,
                now,
                actor,
                Action::RolesChanged,
                &name,
                &format!("roles={}", join(&roles)),
            )?;
            tx.commit()?;
            Ok(Ok(User {
                name: name.clone(),
                department,
                roles: roles.clone(),
            }))
        })?
    }

    /// Sets a new password and ends the user's sessions.
    pub fn set_password(
        &self,
        actor: Actor<'_>,
        name: &str,
        password: &str,
    ) -> Result<(), AuthError> {
        let name = valid_name(name)?;
        check_password(password)?;
        let hash = hash_password(password)?;
        let now = self.clock.now();
        self.store.with(|c| {
            let tx = c.transaction()?;
            let Some((id, _)) = user_row(&tx, &name)? else {
                return Ok(Err(AuthError::NoSuchUser(name.clone())));
            };
            tx.execute(
                "UPDATE user SET password_hash = ?1 WHERE id = ?2",
                params![hash, id],
            )?;
            tx.execute("DELETE FROM session WHERE user_id = ?1", [id])?;
            append_in(&tx, now, actor, Action::PasswordChanged, &name, "")?;
            tx.commit()?;
            Ok(Ok(()))
        })?
    }

    /// Deletes a user; their sessions end with them.
    pub fn delete_user(&self, actor: Actor<'_>, name: &str) -> Result<(), AuthError> {
        let name = valid_name(name)?;
        let now = self.clock.now();
        self.store.with(|c| {
            let tx = c.transaction()?;
            let Some((id, _)) = user_row(&tx, &name)? else {
                return Ok(Err(AuthError::NoSuchUser(name.clone())));
            };
            tx.execute("DELETE FROM user WHERE id = ?1", [id])?;
            if admin_count(&tx)? == 0 {
                return Ok(Err(AuthError::LastAdmin));
            }
            append_in(&tx, now, actor, Action::UserDeleted, &name, "")?;
            tx.commit()?;
            Ok(Ok(()))
        })?
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, AuthError> {
        Ok(self.store.with(|c| {
            let mut stmt = c.prepare(
                "SELECT u.name, u.department, group_concat(r.role, ' ')
                 FROM user u LEFT JOIN user_role r ON r.user_id = u.id
                 GROUP BY u.id ORDER BY u.name",
            )?;
            let rows = stmt.query_map([], |r| {
                let roles: Option<String> = r.get(2)?;
                Ok(User {
                    name: r.get(0)?,
                    department: r.get(1)?,
                    roles: roles
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(str::to_string)
                        .collect(),
                })
            })?;
            rows.collect()
        })?)
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> Result<Option<User>, AuthError> {
        Ok(self.users()?.into_iter().find(|u| u.name == name))
    }

    /// Every role with its description.
    pub fn roles(&self) -> Result<Vec<(String, String)>, AuthError> {
        Ok(self.store.with(|c| {
            let mut stmt = c.prepare("SELECT name, description FROM role ORDER BY name")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?)
    }

    /// Creates a role; an existing name is `RoleExists` (its description is not changed).
    pub fn add_role(
        &self,
        actor: Actor<'_>,
        name: &str,
        description: &str,
    ) -> Result<(), AuthError> {
        let ok = name.len() <= 32
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !ok {
            return Err(AuthError::InvalidRole(name.to_string()));
        }
        crate::text::check_stored(description, MAX_DESCRIPTION_CHARS)
            .map_err(|m| AuthError::InvalidText(format!("description: {m}")))?;
        let now = self.clock.now();
        self.store
            .with(|c| {
                let tx = c.transaction()?;
                let added = tx.execute(
                    "INSERT OR IGNORE INTO role (name, description) VALUES (?1, ?2)",
                    params![name, description],
                )?;
                if added > 0 {
                    append_in(&tx, now, actor, Action::RoleCreated, name, description)?;
                }
                tx.commit()?;
                Ok(added > 0)
            })?
            .then_some(())
            .ok_or_else(|| AuthError::RoleExists(name.to_string()))
    }

    /// Signs in. Every outcome is audited.
    pub fn login(
        &self,
        name: &str,
        password: &str,
        client: &str,
    ) -> Result<NewSession, LoginError> {
        let key = throttle_key(name);
        let now = self.clock.now();
        // A locked name stays locked for the addresses that failed on it. An address that has
        // not failed on it in the last day may still try: the right password from the
        // owner's desk works while a stranger's five wrong ones lock only the stranger out.
        // Each new address that fails joins the lock and lengthens it, so guessing from many
        // addresses still gains one try per address and lock period, no more.
        let locked_until: Option<i64> = self.store.with(|c| {
            c.query_row(
                "SELECT t.locked_until FROM login_throttle t
                 WHERE t.name = ?1 AND EXISTS (
                     SELECT 1 FROM login_failure_source f
                     WHERE f.name = t.name AND f.client = ?2 AND f.last_failure > ?3)",
                params![&key, client, now - 86_400],
                |r| r.get(0),
            )
            .optional()
        })?;
        if let Some(until) = locked_until.filter(|&u| u > now) {
            self.audit(&Event {
                actor: "-",
                action: Action::SignInLocked,
                target: &key,
                detail: "",
                client,
            })?;
            return Err(LoginError::Locked {
                retry_after: until - now,
            });
        }
        let stored: Option<(i64, String)> = self.store.with(|c| {
            c.query_row(
                "SELECT id, password_hash FROM user WHERE name = ?1",
                [&key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })?;
        let user_id = match &stored {
            Some((id, hash)) if verify_password(password, hash) => Some(*id),
            Some(_) => None,
            None => {
                verify_password(password, &self.dummy_hash);
                None
            }
        };
        let Some(user_id) = user_id else {
            self.record_failure(&key, now, client)?;
            return Err(LoginError::Invalid);
        };
        let token = random_token();
        let csrf_token = random_token();
        let expires_at = now + self.policy.session_secs;
        self.store.with(|c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM login_throttle WHERE name = ?1", [&key])?;
            tx.execute("DELETE FROM login_failure_source WHERE name = ?1", [&key])?;
            tx.execute("DELETE FROM session WHERE expires_at <= ?1", [now])?;
            tx.execute(
                "INSERT INTO session (token_hash, user_id, csrf_token, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![token_hash(&token), user_id, csrf_token, now, expires_at],
            )?;
            append_in(
                &tx,
                now,
                Actor { name: &key, client },
                Action::SignIn,
                &key,
                "",
            )?;
            tx.commit()
        })?;
        let session = self
            .session(&token)?
            .ok_or(LoginError::Store(StoreError::Sqlite(
                rusqlite::Error::QueryReturnedNoRows,
            )))?;
        Ok(NewSession { token, session })
    }

    fn record_failure(&self, key: &str, now: i64, client: &str) -> Result<(), StoreError> {
        let policy = &self.policy;
        self.store.with(|c| {
            let tx = c.transaction()?;
            let (mut failures, last): (u32, i64) = tx
                .query_row(
                    "SELECT failures, last_failure FROM login_throttle WHERE name = ?1",
                    [key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .unwrap_or((0, now));
            // A name left alone for a day starts over.
            if now - last > 86_400 {
                failures = 0;
            }
            failures += 1;
            let locked_until = if failures >= policy.max_failures {
                let doublings = (failures - policy.max_failures).min(7);
                now + (policy.lockout_secs << doublings).min(86_400)
            } else {
                0
            };
            tx.execute(
                "INSERT INTO login_throttle (name, failures, last_failure, locked_until)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(name) DO UPDATE SET failures = ?2, last_failure = ?3,
                     locked_until = ?4",
                params![key, failures, now, locked_until],
            )?;
            tx.execute(
                "INSERT INTO login_failure_source (name, client, last_failure)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT(name, client) DO UPDATE SET last_failure = ?3",
                params![key, client, now],
            )?;
            // Forget addresses that have not failed for a day, so the table stays small.
            tx.execute(
                "DELETE FROM login_failure_source WHERE last_failure <= ?1",
                [now - 86_400],
            )?;
            let detail = format!("failures={failures}");
            let actor = Actor { name: "-", client };
            append_in(&tx, now, actor, Action::SignInFailed, key, &detail)?;
            tx.commit()
        })
    }

    /// The live session for `token`, with the user's current roles; `None` when the token is
    /// unknown, expired, or its user was deleted.
    pub fn session(&self, token: &str) -> Result<Option<Session>, StoreError> {
        if token.len() != 43
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Ok(None);
        }
        let now = self.clock.now();
        self.store.with(|c| {
            let row: Option<(i64, String, i64, String, String)> = c
                .query_row(
                    "SELECT u.id, s.csrf_token, s.expires_at, u.name, u.department
                     FROM session s JOIN user u ON u.id = s.user_id
                     WHERE s.token_hash = ?1 AND s.expires_at > ?2",
                    params![token_hash(token), now],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            let Some((id, csrf_token, expires_at, name, department)) = row else {
                return Ok(None);
            };
            let mut stmt = c.prepare_cached("SELECT role FROM user_role WHERE user_id = ?1")?;
            let roles = stmt
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<BTreeSet<String>>>()?;
            Ok(Some(Session {
                user: User {
                    name,
                    department,
                    roles,
                },
                csrf_token,
                expires_at,
            }))
        })
    }

    /// Ends the session of `token` (no error if it has already ended).
    pub fn logout(&self, token: &str, client: &str) -> Result<(), StoreError> {
        let now = self.clock.now();
        let Some(session) = self.session(token)? else {
            return Ok(());
        };
        self.store.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "DELETE FROM session WHERE token_hash = ?1",
                [token_hash(token)],
            )?;
            let name = &session.user.name;
            append_in(&tx, now, Actor { name, client }, Action::SignOut, name, "")?;
            tx.commit()
        })
    }
}

fn append_in(
    tx: &rusqlite::Transaction<'_>,
    at: i64,
    actor: Actor<'_>,
    action: Action,
    target: &str,
    detail: &str,
) -> rusqlite::Result<()> {
    audit::insert(
        tx,
        at,
        &Event {
            actor: actor.name,
            action,
            target,
            detail,
            client: actor.client,
        },
    )
}

fn user_row(tx: &rusqlite::Transaction<'_>, name: &str) -> rusqlite::Result<Option<(i64, String)>> {
    tx.query_row(
        "SELECT id, department FROM user WHERE name = ?1",
        [name],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

fn admin_count(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<i64> {
    tx.query_row(
        "SELECT count(*) FROM user_role WHERE role = ?1",
        [ADMIN_ROLE],
        |r| r.get(0),
    )
}

/// Requested roles, trimmed and without repeats.
fn role_set(roles: &[String]) -> BTreeSet<String> {
    roles.iter().map(|r| r.trim().to_string()).collect()
}

/// Gives user `id` exactly `roles`; an unknown role is refused before anything is written.
fn replace_roles(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    roles: &BTreeSet<String>,
) -> rusqlite::Result<Result<(), AuthError>> {
    for r in roles {
        let known: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM role WHERE name = ?1)",
            [r],
            |row| row.get(0),
        )?;
        if !known {
            return Ok(Err(AuthError::UnknownRole(r.clone())));
        }
    }
    tx.execute("DELETE FROM user_role WHERE user_id = ?1", [id])?;
    for r in roles {
        tx.execute(
            "INSERT INTO user_role (user_id, role) VALUES (?1, ?2)",
            params![id, r],
        )?;
    }
    Ok(Ok(()))
}

fn join(roles: &BTreeSet<String>) -> String {
    roles
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// The stored form of a user name: trimmed and lower-cased, checked.
fn valid_name(name: &str) -> Result<String, AuthError> {
    let n = name.trim().to_ascii_lowercase();
    let ok = !n.is_empty()
        && n.chars().count() <= MAX_NAME_CHARS
        && n.starts_with(|c: char| c.is_ascii_alphanumeric())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(n)
    } else {
        Err(AuthError::InvalidName(name.to_string()))
    }
}

/// The name a sign-in attempt is counted under: what `valid_name` would store, or, for a name
/// that could never exist, the same normalisation cut short (it still gets locked).
fn throttle_key(name: &str) -> String {
    name.trim()
        .to_ascii_lowercase()
        .chars()
        .take(MAX_NAME_CHARS)
        .collect()
}

fn check_password(password: &str) -> Result<(), AuthError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(AuthError::WeakPassword(format!(
            "use at least {MIN_PASSWORD_CHARS} characters (got {n})"
        )));
    }
    if password.len() > 1024 {
        return Err(AuthError::WeakPassword("use at most 1024 bytes".into()));
    }
    Ok(())
}

fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// 256 random bits, base64url without padding (43 characters).
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // getrandom only fails when the OS has no entropy source at all; then no token is safe,
    // and a panic here (outside any request's data) is the honest outcome.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(clock: Clock) -> Auth {
        let store = Arc::new(Store::in_memory().expect("store"));
        Auth::new(store, clock, Policy::default()).expect("auth")
    }

    const CLI: Actor<'static> = Actor {
        name: "cli",
        client: "cli",
    };

    #[test]
    fn names_are_normalised_and_checked() {
        assert_eq!(valid_name(" Tanaka.H ").expect("ok"), "tanaka.h");
        assert!(valid_name("").is_err());
        assert!(valid_name("-x").is_err());
        assert!(valid_name("田中").is_err());
        assert!(valid_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterx", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn roles_must_exist_and_the_last_admin_stays() {
        let a = auth(Clock::System);
        let err = a
            .add_user(
                CLI,
                "sato",
                "防災課",
                &["firefighting".into()],
                "long enough password",
            )
            .expect_err("unknown role");
        assert!(matches!(err, AuthError::UnknownRole(r) if r == "firefighting"));
        assert!(
            a.user("sato").expect("users").is_none(),
            "nothing is created"
        );
        a.add_user(
            CLI,
            "root",
            "情報政策課",
            &["admin".into()],
            "long enough password",
        )
        .expect("admin");
        assert!(matches!(
            a.set_roles(CLI, "root", &["staff".into()]),
            Err(AuthError::LastAdmin)
        ));
        assert!(matches!(
            a.delete_user(CLI, "root"),
            Err(AuthError::LastAdmin)
        ));
        assert_eq!(
            a.user("root").expect("users").expect("still there").roles,
            BTreeSet::from(["admin".to_string()])
        );
    }

    #[test]
    fn lock_doubles_and_expires() {
        let clock = Clock::manual(1_800_000_000);
        let a = auth(clock.clone());
        a.add_user(
            CLI,
            "kimura",
            "上下水道課",
            &["water".into()],
            "long enough password",
        )
        .expect("user");
        for _ in 0..5 {
            assert!(matches!(
                a.login("kimura", "wrong password!", "t"),
                Err(LoginError::Invalid)
            ));
        }
        let Err(LoginError::Locked { retry_after }) =
            a.login("kimura", "long enough password", "t")
        else {
            panic!("locked after five failures");
        };
        assert_eq!(retry_after, 15 * 60);
        clock.advance(retry_after);
        assert!(matches!(
            a.login("kimura", "wrong again!!", "t"),
            Err(LoginError::Invalid)
        ));
        let Err(LoginError::Locked { retry_after }) = a.login("kimura", "x", "t") else {
            panic!("sixth failure locks again");
        };
        assert_eq!(retry_after, 30 * 60);
        clock.advance(retry_after);
        a.login("kimura", "long enough password", "t")
            .expect("signs in after the lock");
    }
}
