//! The audit log: who did what, when and from where. Rows are only ever appended (the store's
//! triggers refuse updates and deletes), and an append is committed before the caller goes on,
//! so a restricted read is never served without its record.

use rusqlite::{Connection, ToSql, params};
use serde::Serialize;

use crate::store::{Store, StoreError};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SignIn,
    SignInFailed,
    SignInLocked,
    SignOut,
    /// A read of a layer whose audience is a role list (personal or sensitive data).
    Read,
    UserCreated,
    UserDeleted,
    RolesChanged,
    PasswordChanged,
    RoleCreated,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SignIn => "sign-in",
            Action::SignInFailed => "sign-in-failed",
            Action::SignInLocked => "sign-in-locked",
            Action::SignOut => "sign-out",
            Action::Read => "read",
            Action::UserCreated => "user-created",
            Action::UserDeleted => "user-deleted",
            Action::RolesChanged => "roles-changed",
            Action::PasswordChanged => "password-changed",
            Action::RoleCreated => "role-created",
        }
    }

    /// Every action, for validating a filter.
    pub const ALL: [Action; 10] = [
        Action::SignIn,
        Action::SignInFailed,
        Action::SignInLocked,
        Action::SignOut,
        Action::Read,
        Action::UserCreated,
        Action::UserDeleted,
        Action::RolesChanged,
        Action::PasswordChanged,
        Action::RoleCreated,
    ];
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// The user acting (`-` when nobody is signed in, e.g. a failed sign-in).
    pub actor: &'a str,
    pub action: Action,
    /// What was acted on: a layer id, a user name.
    pub target: &'a str,
    /// Free text: the query of a read, the new roles.
    pub detail: &'a str,
    /// The client's address, or `cli` for the command line.
    pub client: &'a str,
}

/// One stored entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    /// RFC 3339 UTC time.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub client: String,
}

/// Appends `event` at unix time `at` and commits it.
pub fn append(store: &Store, at: i64, event: &Event<'_>) -> Result<(), StoreError> {
    store.with(|c| insert(c, at, event))
}

/// Longest text of one audit field. Inputs are checked before they reach the log; this keeps
/// the append-only table bounded whatever a future caller passes.
const MAX_FIELD_CHARS: usize = 2000;

/// `text` cut to [`MAX_FIELD_CHARS`], saying how much was left out.
fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_FIELD_CHARS) {
        None => text.into(),
        Some((at, _)) => {
            let rest = text[at..].chars().count();
            format!("{}…[{rest} more characters]", &text[..at]).into()
        }
    }
}

/// Inserts `event` on `conn`, so a change and its audit entry can share one transaction.
pub(crate) fn insert(conn: &Connection, at: i64, event: &Event<'_>) -> rusqlite::Result<()> {
    let at = chrono::DateTime::from_timestamp(at, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    conn.execute(
        "INSERT INTO audit (at, actor, action, target, detail, client)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            at,
            clip(event.actor),
            event.action.as_str(),
            clip(event.target),
            clip(event.detail),
            clip(event.client)
        ],
    )?;
    Ok(())
}

/// Which entries to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: Option<String>,
    pub action: Option<Action>,
    pub target: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

/// Entries matching `filter`, newest first, and how many match in all.
pub fn list(store: &Store, filter: &Filter) -> Result<(Vec<Entry>, usize), StoreError> {
    let mut clauses = Vec::new();
    let mut args: Vec<&dyn ToSql> = Vec::new();
    let action = filter.action.map(Action::as_str);
    if let Some(a) = &filter.actor {
        clauses.push("actor = ?");
        args.push(a);
    }
    if let Some(a) = &action {
        clauses.push("action = ?");
        args.push(a);
    }
    if let Some(t) = &filter.target {
        clauses.push("target = ?");
        args.push(t);
    }
    let wher = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let limit = filter.limit as i64;
    let offset = filter.offset as i64;
    store.with(|c| {
        let total: i64 = c.query_row(
            &format!("SELECT count(*) FROM audit{wher}"),
            args.as_slice(),
            |r| r.get(0),
        )?;
        let mut page_args = args.clone();
        page_args.push(&limit);
        page_args.push(&offset);
        let mut stmt = c.prepare(&format!(
            "SELECT id, at, actor, action, target, detail, client FROM audit{wher}
             ORDER BY id DESC LIMIT ? OFFSET ?"
        ))?;
        let rows = stmt
            .query_map(page_args.as_slice(), |r| {
                Ok(Entry {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    target: r.get(4)?,
                    detail: r.get(5)?,
                    client: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((rows, total as usize))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_pages_newest_first() {
        let store = Store::in_memory().expect("store");
        for (n, actor) in ["a", "b", "a", "a"].iter().enumerate() {
            let target = format!("layer-{n}");
            append(
                &store,
                1_700_000_000 + n as i64,
                &Event {
                    actor,
                    action: Action::Read,
                    target: &target,
                    detail: "",
                    client: "127.0.0.1",
                },
            )
            .expect("append");
        }
        let f = Filter {
            actor: Some("a".into()),
            limit: 2,
            ..Filter::default()
        };
        let (rows, total) = list(&store, &f).expect("list");
        assert_eq!(total, 3);
        let targets: Vec<_> = rows.iter().map(|e| e.target.as_str()).collect();
        assert_eq!(targets, ["layer-3", "layer-2"]);
        assert_eq!(rows[0].at, "2023-11-14T22:13:23Z");
    }

    #[test]
    fn an_oversized_field_is_cut_and_says_so() {
        let store = Store::in_memory().expect("store");
        let detail = "部".repeat(100_000);
        append(
            &store,
            1_700_000_000,
            &Event {
                actor: "admin",
                action: Action::UserCreated,
                target: "x",
                detail: &detail,
                client: "cli",
            },
        )
        .expect("append");
        let f = Filter {
            limit: 10,
            ..Filter::default()
        };
        let (rows, _) = list(&store, &f).expect("list");
        let kept = &rows[0].detail;
        assert_eq!(kept.chars().filter(|&c| c == '部').count(), MAX_FIELD_CHARS);
        assert!(kept.ends_with(&format!("…[{} more characters]", 100_000 - MAX_FIELD_CHARS)));
    }
}
