//! Who may see what. `View` is the catalog as one principal may see it, and the only way the
//! HTTP layer reaches features: hidden layers and attributes simply do not exist in a view.

mod catalog;
mod editable;
mod journal;
mod layer;
mod reports;

use std::sync::Arc;

use geo::{Geometry, Rect};

use crate::config::{
    AttributeConfig, EditConfig, LayerConfig, LocationSection, ReportsConfig, ServerConfig,
    TileConfig, ViewConfig,
};
use crate::model::{Attribute, FeatureId, PastState, Value};
use crate::policy::{Audience, Principal};
pub use catalog::{Catalog, LayerReport, LiveCatalog, LoadError};
pub use editable::{Action, Editable, Refusal};
use layer::Layer;
pub use reports::{ReportForm, ReportStatus};

/// The catalog as one principal sees it.
#[derive(Clone)]
pub struct View {
    catalog: Arc<Catalog>,
    principal: Principal,
}

impl View {
    pub fn new(catalog: Arc<Catalog>, principal: Principal) -> View {
        View { catalog, principal }
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn server(&self) -> &ServerConfig {
        &self.catalog.server
    }

    /// The id collection `id` gives feature `fid` of the layer it edits or shows (an opaque
    /// one on a view).
    pub fn feature_id_in(&self, id: &str, fid: i64) -> String {
        self.catalog.feature_id_in(id, fid)
    }

    /// The feature number behind id `feature` of collection `id`.
    pub fn edited_fid(&self, id: &str, feature: &str) -> Option<i64> {
        self.catalog.edited_fid(id, feature)
    }

    /// The id the live stream gives its event for change `seq`: opaque, so the gaps between
    /// a reader's events count nothing it may not see.
    pub fn event_id(&self, seq: i64) -> String {
        self.catalog.event_id(seq)
    }

    /// The change behind an event id this server gave; `None` for any other text.
    pub fn event_seq(&self, id: &str) -> Option<i64> {
        self.catalog.event_seq(id)
    }

    /// The catalog's generation: one more with every edit and every reload.
    pub fn generation(&self) -> u64 {
        self.catalog.journal.generation()
    }

    /// Whether none of `layers` changed inside `area` (CRS84) between generation `since` and
    /// this view's; `false` when that is too long ago to tell. Caches of answers built for an
    /// older catalog (tiles) ask this before they serve one.
    pub fn unchanged_since(&self, since: u64, layers: &[LayerView], area: &Rect<f64>) -> bool {
        self.catalog
            .journal
            .unchanged_since(since, layers.iter().map(LayerView::id), area)
    }

    /// Residents' report settings, when the town takes reports (anyone may send one).
    pub fn reports(&self) -> Option<&ReportsConfig> {
        self.catalog.raw_reports()
    }

    /// The layers this principal may see, in catalog order.
    pub fn layers(&self) -> impl Iterator<Item = LayerView> + '_ {
        self.catalog
            .raw_layers()
            .iter()
            .filter_map(|l| self.view_of(l))
    }

    /// A layer by id, or `None` when it does not exist *or* is hidden: callers cannot tell.
    pub fn layer(&self, id: &str) -> Option<LayerView> {
        self.catalog.raw_layer(id).and_then(|l| self.view_of(l))
    }

    /// The location report's sections whose layer this principal may see, in catalog order,
    /// each with its layer. Sections on hidden layers do not exist.
    pub fn location_sections(&self) -> impl Iterator<Item = (&LocationSection, LayerView)> + '_ {
        self.catalog
            .raw_location_sections()
            .iter()
            .filter_map(|s| self.layer(&s.layer).map(|l| (s, l)))
    }

    /// Collection `id` as this principal would have seen it holding only feature `fid` in the
    /// past state `past` (see `Catalog::as_of`): whether a reader could see a feature before
    /// it changed, so a live stream tells of its removal only those who saw it.
    pub fn as_of(&self, id: &str, fid: i64, past: PastState) -> Option<LayerView> {
        let layer = Arc::new(self.catalog.raw_as_of(id, fid, past)?);
        self.view_of(&layer)
    }

    /// Whether this view shows `layer` at all (a hidden layer does not exist in it).
    fn shows(&self, layer: &Layer) -> bool {
        layer.meta.audience.admits(&self.principal)
    }

    fn view_of(&self, layer: &Arc<Layer>) -> Option<LayerView> {
        if !self.shows(layer) {
            return None;
        }
        let visible: Vec<bool> = layer
            .schema
            .iter()
            .map(|a| a.audience.admits(&self.principal))
            .collect();
        let attrs = (0..visible.len())
            .filter(|&i| visible[i])
            .map(VisibleAttr)
            .collect();
        Some(LayerView {
            layer: Arc::clone(layer),
            attrs: Arc::new(attrs),
            visible: Arc::new(visible),
        })
    }
}

/// A visible attribute of one `LayerView`. Only a view hands these out, so code holding one
/// has been told by the view that the principal may see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisibleAttr(usize);

/// One visible layer with only its visible attributes. Cheap to clone; owns an `Arc` of the
/// layer so a response can keep streaming after the catalog is swapped.
///
/// It deliberately does not hand out the `Layer`: geometry, ids and metadata are reachable
/// directly, attribute values only through a `VisibleAttr`.
#[derive(Clone)]
pub struct LayerView {
    layer: Arc<Layer>,
    attrs: Arc<Vec<VisibleAttr>>,
    /// `visible[i]` for each schema index, checked again on every value read.
    visible: Arc<Vec<bool>>,
}

impl LayerView {
    pub fn id(&self) -> &str {
        &self.layer.meta.id
    }

    /// The layer's catalog entry (titles, licence, department, how it is edited). The
    /// catalog refuses metadata that names an attribute hidden from part of the layer's
    /// audience; attribute settings come one visible attribute at a time (`settings`).
    pub fn meta(&self) -> LayerMeta<'_> {
        LayerMeta(&self.layer.meta)
    }

    /// The catalog settings (codes, limits, how it is filled) of a visible attribute.
    pub fn settings(&self, attr: VisibleAttr) -> &AttributeConfig {
        &self.layer.meta.attributes[attr.0]
    }

    /// Whether a read that outputs or filters on `attrs` is written to the audit log: any read
    /// of a layer for named roles only (where personal data such as people needing evacuation
    /// help lives), and any read that touches an attribute for named roles only.
    pub fn is_audited_read(&self, attrs: &[VisibleAttr]) -> bool {
        matches!(self.layer.meta.audience, Audience::Roles(_))
            || attrs
                .iter()
                .any(|a| matches!(self.layer.schema[a.0].audience, Audience::Roles(_)))
    }

    /// The extent of every feature, CRS84.
    pub fn extent(&self) -> Option<Rect<f64>> {
        self.layer.extent
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.layer.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.layer.features.is_empty()
    }

    /// Indices of the features whose geometry intersects `bbox`, in layer order.
    pub fn intersecting(&self, bbox: &Rect<f64>) -> Vec<usize> {
        self.layer.intersecting(bbox)
    }

    /// Every feature with the planar distance in degrees from (`lon`, `lat`) to its envelope,
    /// nearest first (see `Layer::by_envelope_distance`).
    pub fn by_envelope_distance(
        &self,
        lon: f64,
        lat: f64,
    ) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.layer.by_envelope_distance(lon, lat)
    }

    /// The searched attributes this principal may see, each with its folded values (one per
    /// feature). Attributes hidden from the principal are not searched: a hit on one would
    /// tell what it holds.
    pub fn search_columns(&self) -> impl Iterator<Item = (VisibleAttr, &[Option<Box<str>>])> + '_ {
        self.layer
            .search
            .iter()
            .filter(|c| self.visible.get(c.attr).copied().unwrap_or(false))
            .map(|c| (VisibleAttr(c.attr), c.values.as_slice()))
    }

    /// The index of the feature with this id.
    pub fn position_of(&self, id: &str) -> Option<usize> {
        self.layer.position_of(id)
    }

    /// The id of feature `i`.
    pub fn feature_id(&self, i: usize) -> &FeatureId {
        &self.layer.features[i].id
    }

    /// The edit store's version of feature `i` (its ETag); 0 for layers read from files.
    pub fn version(&self, i: usize) -> i64 {
        self.layer.features[i].version
    }

    /// The geometry of feature `i`.
    pub fn geometry(&self, i: usize) -> &Geometry<f64> {
        &self.layer.features[i].geometry
    }

    /// The value of a visible attribute of feature `i`. An attribute of another view that this
    /// one hides reads as null.
    pub fn value(&self, i: usize, attr: VisibleAttr) -> &Value {
        if self.visible.get(attr.0).copied().unwrap_or(false) {
            &self.layer.features[i].properties[attr.0]
        } else {
            &Value::Null
        }
    }

    /// Visible attributes, in schema order.
    pub fn attributes(&self) -> impl Iterator<Item = (VisibleAttr, &Attribute)> + '_ {
        self.attrs.iter().map(|&a| (a, &self.layer.schema[a.0]))
    }

    /// A visible attribute by name; hidden ones are indistinguishable from unknown ones.
    pub fn attribute(&self, name: &str) -> Option<(VisibleAttr, &Attribute)> {
        self.attributes().find(|(_, a)| a.name == name)
    }

    /// The schema entry of a visible attribute.
    pub fn schema(&self, attr: VisibleAttr) -> &Attribute {
        &self.layer.schema[attr.0]
    }

    /// Every visible attribute.
    pub fn visible(&self) -> &[VisibleAttr] {
        &self.attrs
    }
}

/// A visible layer's catalog entry without its attribute list (hidden attributes' settings
/// stay inside the view; see `LayerView::settings`).
#[derive(Clone, Copy)]
pub struct LayerMeta<'a>(&'a LayerConfig);

impl<'a> LayerMeta<'a> {
    pub fn id(self) -> &'a str {
        &self.0.id
    }
    pub fn title_ja(self) -> &'a str {
        &self.0.title_ja
    }
    pub fn title_en(self) -> &'a str {
        &self.0.title_en
    }
    pub fn description(self) -> &'a str {
        &self.0.description
    }
    pub fn department(self) -> &'a str {
        &self.0.department
    }
    pub fn license(self) -> &'a str {
        &self.0.license
    }
    pub fn updated(self) -> &'a str {
        &self.0.updated
    }
    pub fn keywords(self) -> &'a [String] {
        &self.0.keywords
    }
    /// How the layer is drawn in vector tiles.
    pub fn tiles(self) -> &'a TileConfig {
        &self.0.tiles
    }
    /// How the layer is edited, when it is.
    pub fn edit(self) -> Option<&'a EditConfig> {
        self.0.edit()
    }
    /// The layer this one is a view of, when it is one.
    pub fn view(self) -> Option<&'a ViewConfig> {
        self.0.view()
    }
}
