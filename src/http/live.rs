//! `GET /collections/{id}/changes`: a live stream (Server-Sent Events) of the features of an
//! editable layer, or a view of one, as they are created, changed and deleted — for the
//! disaster office's map of damage reports. The same `bbox`, `filter` and attribute
//! parameters as `/items` narrow it (`filter=種別 IN ('道路損傷','河川')`).
//!
//! Each event's `id` stands for the change's position in the edit store's log, under a keyed
//! permutation: ids that counted the log would tell a public reader how many hidden writes
//! fell between two of its events. A client that reconnects with `Last-Event-ID` (browsers'
//! EventSource does so by itself) first gets the current state of every feature changed after
//! that event, then the live changes, so no change is missed across a dropped connection.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::{broadcast, mpsc};

use super::extract::Path;
use super::features::{audit_read, visible_layer};
use super::identity::CurrentView;
use super::{ApiError, AppState, QueryPairs};
use crate::access::{LayerView, View};
use crate::edit::{ChangeEvent, EditError, Editor};
use crate::encode::geojson::write_feature_in;
use crate::policy::Principal;
use crate::query::{Format, ItemsQuery};

/// How often a signed-in subscriber's session is checked again: a stream must end soon after
/// the session is ended or the user deleted.
const SESSION_CHECK: Duration = Duration::from_secs(30);
/// Log entries read per step when catching up.
const CATCH_UP_BATCH: usize = 1000;

/// What a subscriber asked for, re-applied to each change against the catalog of the moment.
struct Subscription {
    principal: Principal,
    collection: String,
    /// The layer whose changes concern it: the collection itself, or the layer a view shows.
    source: String,
    pairs: Vec<(String, String)>,
}

impl Subscription {
    /// The SSE event for change `seq` of feature `fid`: `feature` when the feature now meets
    /// the query and reads otherwise than it did as of change `seen` (what the subscriber
    /// could know of it); `remove` when it does not meet the query but did as of `seen`;
    /// `None` otherwise. A stream never tells of a feature its reader could not see: a public
    /// view's subscriber learns nothing of a report that is not public yet, not even that it
    /// exists, nor that staff changed what only staff see.
    async fn event(
        &self,
        state: &AppState,
        editor: &Arc<Editor>,
        seq: i64,
        fid: i64,
        seen: i64,
    ) -> Result<Option<Event>, ApiError> {
        let view = super::identity::view_of(state, &self.principal);
        let layer = visible_layer(&view, &self.collection)?;
        // On a view, its opaque id; the edited layer's number never reaches its readers.
        let id = view.feature_id_in(&self.collection, fid);
        let now = self.shown(&view, &layer, &id)?;
        let editor = Arc::clone(editor);
        let source = self.source.clone();
        let past = tokio::task::spawn_blocking(move || editor.store().state_at(&source, fid, seen))
            .await?
            .map_err(EditError::from)?;
        let before = match past.and_then(|p| view.as_of(&self.collection, fid, p)) {
            Some(then) => self.shown(&view, &then, &id)?,
            None => None,
        };
        let event = Event::default().id(view.event_id(seq));
        Ok(match (now, before) {
            (Some(now), Some(before)) if now == before => None,
            (Some(now), _) => Some(event.event("feature").data(now)),
            (None, Some(_)) => {
                // The id as the feature events wrote it: a number on the edited layer, text on
                // a view.
                let id = if layer.meta().view().is_some() {
                    serde_json::json!(id)
                } else {
                    serde_json::json!(fid)
                };
                Some(
                    event
                        .event("remove")
                        .data(serde_json::json!({ "id": id }).to_string()),
                )
            }
            (None, None) => None,
        })
    }

    /// Feature `id` of `layer` as this subscription writes it, if it meets the query.
    fn shown(&self, view: &View, layer: &LayerView, id: &str) -> Result<Option<String>, ApiError> {
        let q = ItemsQuery::parse(&self.pairs, layer, view.server(), Format::Json)?;
        Ok(layer
            .position_of(id)
            .filter(|&i| q.selects(layer, i))
            .map(|i| {
                let mut buf = Vec::with_capacity(512);
                write_feature_in(&mut buf, layer, i, q.output_attrs(layer), None, q.crs);
                String::from_utf8_lossy(&buf).into_owned()
            }))
    }
}

/// `GET /collections/{id}/changes`.
pub async fn changes(
    State(state): State<AppState>,
    CurrentView { view, caller }: CurrentView,
    Path(id): Path<String>,
    QueryPairs { pairs, .. }: QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let layer = visible_layer(&view, &id)?;
    let source = match (&layer.meta().edit(), &layer.meta().view()) {
        (Some(_), _) => id.clone(),
        (None, Some(v)) => v.of.clone(),
        (None, None) => {
            return Err(ApiError::not_found(format!(
                "collection \"{id}\" is not edited, so it has no changes to follow"
            )));
        }
    };
    let editor = super::edit::editor(&state)?;
    let mut pairs = pairs;
    let mut resume = None;
    pairs.retain(|(k, v)| {
        // EventSource cannot set headers; a reconnecting script may pass the id here.
        if k == "lastEventId" {
            resume = Some(v.clone());
            false
        } else {
            true
        }
    });
    for (k, _) in &pairs {
        if matches!(k.as_str(), "limit" | "offset" | "sortby" | "f") {
            return Err(ApiError::from(crate::query::QueryError::new(
                k,
                "does not apply to a live stream",
            )));
        }
    }
    // Checked now, so a bad parameter is a 400 rather than a stream that ends at once.
    let q = ItemsQuery::parse(&pairs, &layer, view.server(), Format::Json)?;
    audit_read(&state, &caller, &layer, q.output_attrs(&layer), || {
        "live changes".to_string()
    })
    .await?;
    let resume = match headers
        .get("last-event-id")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or(resume)
    {
        None => None,
        Some(v) => Some(view.event_seq(v.trim()).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Last-Event-ID: expected an event id from this stream, got \"{}\"",
                v.chars().take(40).collect::<String>()
            ))
        })?),
    };
    let subscription = Subscription {
        principal: caller.principal.clone(),
        collection: id,
        source,
        pairs,
    };
    let token = caller.session.as_ref().map(|(_, t)| t.clone());
    let (tx, rx) = mpsc::channel::<Event>(64);
    // Subscribe before catching up, so nothing falls between the two.
    let live = editor.subscribe();
    tokio::spawn(forward(
        state,
        editor,
        subscription,
        live,
        resume,
        token,
        tx,
    ));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// Sends the subscriber what it missed since `resume`, then every change as it happens, until
/// the client goes away or its session ends.
async fn forward(
    state: AppState,
    editor: Arc<Editor>,
    sub: Subscription,
    mut live: broadcast::Receiver<ChangeEvent>,
    resume: Option<i64>,
    token: Option<String>,
    tx: mpsc::Sender<Event>,
) {
    let mut last = resume;
    if tx
        .send(
            Event::default()
                .retry(Duration::from_secs(2))
                .comment("machimap live"),
        )
        .await
        .is_err()
    {
        return;
    }
    if let Some(after) = resume {
        match catch_up(&state, &editor, &sub, after, &tx).await {
            Some(seq) => last = Some(seq),
            None => return,
        }
    }
    let mut check = tokio::time::interval(SESSION_CHECK);
    check.tick().await;
    loop {
        tokio::select! {
            _ = check.tick() => {
                if !session_alive(&state, token.as_deref()).await {
                    return;
                }
            }
            _ = tx.closed() => return,
            received = live.recv() => match received {
                Ok(change) => {
                    if last.is_some_and(|l| change.seq <= l) {
                        continue;
                    }
                    last = Some(change.seq);
                    if change.layer != sub.source {
                        continue;
                    }
                    match sub.event(&state, &editor, change.seq, change.fid, change.seq - 1).await {
                        Ok(Some(e)) => {
                            if tx.send(e).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => {}
                        // The layer went away or the query no longer fits it (a reload).
                        Err(_) => return,
                    }
                }
                // Fell behind the buffer: read what was missed from the store's log.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let from = last.unwrap_or(0);
                    match catch_up(&state, &editor, &sub, from, &tx).await {
                        Some(seq) => last = Some(seq),
                        None => return,
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

/// Sends the current state of every feature of the subscription's layer changed after
/// `after`, in change order (each feature once, at its latest change). Returns the last
/// sequence number read, or `None` if the client went away or the store failed.
async fn catch_up(
    state: &AppState,
    editor: &Arc<Editor>,
    sub: &Subscription,
    after: i64,
    tx: &mpsc::Sender<Event>,
) -> Option<i64> {
    let mut latest: Vec<(i64, i64)> = Vec::new();
    let mut last = after;
    loop {
        let store = Arc::clone(editor);
        let from = last;
        let batch =
            tokio::task::spawn_blocking(move || store.store().log_since(from, CATCH_UP_BATCH))
                .await
                .ok()?
                .ok()?;
        let Some(end) = batch.last().map(|e| e.seq) else {
            break;
        };
        for e in batch.iter().filter(|e| e.layer == sub.source) {
            latest.retain(|(_, fid)| *fid != e.fid);
            latest.push((e.seq, e.fid));
        }
        last = end;
        if batch.len() < CATCH_UP_BATCH {
            break;
        }
    }
    for (seq, fid) in latest {
        match sub.event(state, editor, seq, fid, after).await {
            Ok(Some(e)) => tx.send(e).await.ok()?,
            Ok(None) => {}
            Err(_) => return None,
        }
    }
    Some(last)
}

/// Whether the subscriber's session still holds (always, for residents on a public view).
async fn session_alive(state: &AppState, token: Option<&str>) -> bool {
    let Some(token) = token.map(str::to_string) else {
        return true;
    };
    let auth = Arc::clone(&state.auth);
    matches!(
        tokio::task::spawn_blocking(move || auth.session(&token)).await,
        Ok(Ok(Some(_)))
    )
}
