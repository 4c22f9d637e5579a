//! The editor's capability: a layer a principal may change, handed out only after the view
//! has checked that the layer is visible, editable and open to this kind of change. The
//! editor never holds a raw layer, so it cannot write where the caller may not.

use std::sync::Arc;

use super::View;
use super::layer::Layer;
use crate::config::{EditConfig, LayerConfig, ReportsConfig};
use crate::model::{Feature, FeatureId};
use crate::policy::{Audience, Principal};

/// What a change is, for the permission check and its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    /// The refusal's words: "you may not {verb} in …".
    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "create features",
            Action::Update => "change features",
            Action::Delete => "delete features",
        }
    }

    fn audience(self, edit: &EditConfig) -> &Audience {
        match self {
            Action::Create => &edit.create,
            Action::Update => &edit.update,
            Action::Delete => &edit.delete,
        }
    }
}

/// Why a view does not hand out a layer for editing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Missing or hidden: the same answer, so a hidden name tells nothing.
    NotFound,
    /// Visible but read from a file or a view of another layer.
    ReadOnly,
    /// Open to staff only; the caller is anonymous.
    SignInRequired(&'static str),
    /// The caller is signed in but lacks the role.
    Forbidden(&'static str),
}

/// A layer the view's principal may change, with the features as they are now.
#[derive(Clone)]
pub struct Editable {
    view: View,
    layer: Arc<Layer>,
    /// The layer's edit settings (an `Editable` exists only for an editable layer).
    edit: EditConfig,
}

impl Editable {
    /// `layer` for editing through `view`, when it is an editable layer.
    fn of(view: &View, layer: &Arc<Layer>) -> Option<Editable> {
        Some(Editable {
            view: view.clone(),
            layer: Arc::clone(layer),
            edit: layer.meta.edit()?.clone(),
        })
    }

    pub fn id(&self) -> &str {
        &self.layer.meta.id
    }

    /// The view the change is checked against (what the editor may see and set).
    pub fn view(&self) -> &View {
        &self.view
    }

    /// The layer's whole catalog entry: the editor checks input against every attribute,
    /// including those it fills in itself.
    pub fn config(&self) -> &LayerConfig {
        &self.layer.meta
    }

    /// The layer's edit settings.
    pub fn edit(&self) -> &EditConfig {
        &self.edit
    }

    /// The feature numbered `fid` (its id in the URL) and its current state.
    pub fn current(&self, fid: &str) -> Option<(i64, &Feature)> {
        let i = self.layer.position_of(fid)?;
        let f = &self.layer.features[i];
        match f.id {
            FeatureId::Int(n) => Some((n, f)),
            FeatureId::Str(_) => None,
        }
    }

    /// Whether feature `fid` is in the layer now (not deleted).
    pub fn holds(&self, fid: i64) -> bool {
        self.layer.position_of(&fid.to_string()).is_some()
    }
}

impl View {
    /// Layer `id` for a change of kind `action` by this view's principal.
    pub fn editable(&self, id: &str, action: Action) -> Result<Editable, Refusal> {
        let editable = self.edited_layer(id)?;
        if !action.audience(editable.edit()).admits(self.principal()) {
            return Err(match self.principal() {
                Principal::Anonymous => Refusal::SignInRequired(action.verb()),
                Principal::Staff { .. } => Refusal::Forbidden(action.verb()),
            });
        }
        Ok(editable)
    }

    /// Layer `id` when it is visible and editable, whoever may change it (an admin's restore
    /// checks its own role).
    pub fn edited_layer(&self, id: &str) -> Result<Editable, Refusal> {
        let layer = self
            .catalog
            .raw_layer(id)
            .filter(|l| self.shows(l))
            .ok_or(Refusal::NotFound)?;
        Editable::of(self, layer).ok_or(Refusal::ReadOnly)
    }

    /// Where residents' reports go, when the town takes them: anyone may send one, whatever
    /// the reports layer's audience, so this does not ask whether the view shows the layer.
    /// The editor lets a report set only its category and description.
    pub fn report_intake(&self) -> Option<(ReportsConfig, Editable)> {
        let settings = self.catalog.raw_reports()?.clone();
        let editable = Editable::of(self, self.catalog.raw_layer(&settings.layer)?)?;
        Some((settings, editable))
    }
}
