//! Reading the append-only change log (`machimap_history`) back as `LogEntry`s.

use rusqlite::Connection;
use serde_json::Value as Json;

use super::Failure;
use crate::edit_store::LogEntry;

pub(super) const LOG_COLUMNS: &str =
    "seq, layer, fid, op, actor, client, at, \"before\", \"after\"";

pub(super) fn read_log(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<LogEntry>, Failure> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let json = |i: usize| -> Result<Option<Json>, Failure> {
            let text: Option<String> = r.get(i)?;
            text.map(|t| {
                serde_json::from_str(&t)
                    .map_err(|e| Failure::Invalid(format!("history entry {seq}: {e}")))
            })
            .transpose()
        };
        out.push(LogEntry {
            seq,
            layer: r.get(1)?,
            fid: r.get(2)?,
            op: r.get(3)?,
            actor: r.get(4)?,
            client: r.get(5)?,
            at: r.get(6)?,
            before: json(7)?,
            after: json(8)?,
        });
    }
    Ok(out)
}
