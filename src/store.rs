//! The embedded SQLite store: staff users and their roles, sessions, sign-in throttling and the
//! audit log. One file that survives restarts; every write is committed with `synchronous=FULL`
//! so what the server acknowledged is on disk.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;

/// A problem with the store, naming the file where it applies.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: cannot open the store: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path}: cannot create: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: the store has schema version {found}; this machimap knows up to {known}")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store: a previous operation panicked while holding the connection")]
    Poisoned,
}

/// Schema migrations, applied in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE role (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT ''
);
INSERT INTO role (name, description) VALUES
    ('staff',    '職員 (any member of staff)'),
    ('admin',    'システム管理者: users, roles and the audit log'),
    ('planning', '都市計画課'),
    ('roads',    '道路課'),
    ('water',    '上下水道課'),
    ('disaster', '防災課'),
    ('welfare',  '福祉課');
CREATE TABLE user (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    department    TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE TABLE user_role (
    user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
    role    TEXT NOT NULL REFERENCES role(name),
    PRIMARY KEY (user_id, role)
);
-- Only a hash of each session token is kept: a copied store file opens no session.
CREATE TABLE session (
    token_hash BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX session_expiry ON session (expires_at);
-- Keyed by the name typed, whether or not such a user exists, so locking reveals nothing.
CREATE TABLE login_throttle (
    name         TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_failure INTEGER NOT NULL,
    locked_until INTEGER NOT NULL
);
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    client TEXT NOT NULL
);
CREATE INDEX audit_actor ON audit (actor);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#,
    // 2: the addresses each name failed from, so a lock holds against them and not against
    // the right password from elsewhere (a stranger must not lock a colleague out).
    r#"
CREATE TABLE login_failure_source (
    name         TEXT NOT NULL,
    client       TEXT NOT NULL,
    last_failure INTEGER NOT NULL,
    PRIMARY KEY (name, client)
);
"#,
];

/// The store. Cheap operations run under one connection lock; callers on the async executor
/// go through `spawn_blocking`.
pub struct Store {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Create {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        // Password hashes live here: only the server's own user may read the file. SQLite gives
        // its -wal and -shm files the database file's permissions.
        if !path.exists() {
            create_private(path).map_err(|source| StoreError::Create {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        Store::migrated(conn, Some(path.to_path_buf()))
    }

    /// A store that lives only in memory, for tests and throwaway servers.
    pub fn in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        Store::migrated(conn, None)
    }

    fn migrated(mut conn: Connection, path: Option<PathBuf>) -> Result<Store, StoreError> {
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path: path.unwrap_or_default(),
                found: version,
                known,
            });
        }
        for (n, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", n as i64 + 1)?;
            tx.commit()?;
        }
        Ok(Store {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// Where the store lives; `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs `f` with the connection.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(f(&mut conn)?)
    }
}

/// Creates an empty file only the server's own user may read or write (0600): SQLite gives
/// a database's -wal and -shm files the database file's permissions.
pub fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_rows_cannot_be_changed_or_removed() {
        let store = Store::in_memory().expect("store");
        store
            .with(|c| {
                c.execute(
                    "INSERT INTO audit (at, actor, action, target, detail, client)
                     VALUES ('t', 'a', 'x', 'y', '', '')",
                    [],
                )
            })
            .expect("insert");
        let update = store.with(|c| c.execute("UPDATE audit SET actor = 'b'", []));
        assert!(update.is_err(), "update of the audit log must fail");
        let delete = store.with(|c| c.execute("DELETE FROM audit", []));
        assert!(delete.is_err(), "delete from the audit log must fail");
        let n: i64 = store
            .with(|c| c.query_row("SELECT count(*) FROM audit", [], |r| r.get(0)))
            .expect("count");
        assert_eq!(n, 1);
    }

    #[test]
    fn reopening_keeps_the_schema_and_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/store.sqlite");
        {
            let s = Store::open(&path).expect("open");
            s.with(|c| c.execute("INSERT INTO role (name) VALUES ('parks')", []))
                .expect("insert");
        }
        let s = Store::open(&path).expect("reopen");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the store is private to its owner: {mode:o}"
        );
        let n: i64 = s
            .with(|c| {
                c.query_row("SELECT count(*) FROM role WHERE name='parks'", [], |r| {
                    r.get(0)
                })
            })
            .expect("count");
        assert_eq!(n, 1);
    }
}
