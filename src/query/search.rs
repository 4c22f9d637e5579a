//! Text search over the attributes each layer's `search` names, with Japanese normalisation
//! (`text::fold`): full-width and half-width, katakana and hiragana, upper and lower case and
//! spacing all meet.

use super::{Format, QueryError, bad, once, parse_format, parse_limit};
use crate::access::{LayerView, View};
use crate::config::ServerConfig;
use crate::text;

/// How well a feature matches: better first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// A searched value is exactly the term.
    Exact,
    /// A searched value starts with the term.
    Prefix,
    /// A searched value contains the term.
    Substring,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Exact => "exact",
            Tier::Prefix => "prefix",
            Tier::Substring => "substring",
        }
    }

    /// How `value` (folded) holds `term` (folded), if at all.
    fn of(value: &str, term: &str) -> Option<Tier> {
        if value == term {
            Some(Tier::Exact)
        } else if value.starts_with(term) {
            Some(Tier::Prefix)
        } else if value.contains(term) {
            Some(Tier::Substring)
        } else {
            None
        }
    }
}

/// A validated `/search` request.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// The folded terms of `q`, each non-empty.
    pub terms: Vec<String>,
    /// `collections`: the layers to search, in catalog order; `None` is every searchable
    /// layer the caller sees.
    pub collections: Option<Vec<String>>,
    pub limit: usize,
    pub format: Format,
}

impl SearchQuery {
    /// Parses `q`, `collections`, `limit` and `f`. A collection that is unknown, hidden, or
    /// has no attribute this caller may search is refused alike.
    pub fn parse(
        pairs: &[(String, String)],
        view: &View,
        server: &ServerConfig,
        preferred: Format,
    ) -> Result<SearchQuery, QueryError> {
        let mut terms = None;
        let mut collections = None;
        let mut limit = server.default_limit;
        let mut format = preferred;
        let mut seen = Vec::new();
        for (k, v) in pairs {
            once(&mut seen, k)?;
            match k.as_str() {
                "q" => terms = Some(parse_terms(v)?),
                "collections" => {
                    let mut ids = Vec::new();
                    for id in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        let searchable = view
                            .layer(id)
                            .is_some_and(|l| l.search_columns().next().is_some());
                        if !searchable {
                            return Err(bad(
                                "collections",
                                format!("no searchable collection \"{id}\""),
                            ));
                        }
                        if !ids.iter().any(|x| x == id) {
                            ids.push(id.to_string());
                        }
                    }
                    if ids.is_empty() {
                        return Err(bad("collections", "name at least one collection"));
                    }
                    collections = Some(ids);
                }
                "limit" => limit = parse_limit(v, server.max_limit)?,
                "f" => format = parse_format(v)?,
                other => return Err(bad(other, "unknown query parameter")),
            }
        }
        let terms = terms.ok_or_else(|| bad("q", "required: the words to search for"))?;
        Ok(SearchQuery {
            terms,
            collections,
            limit,
            format,
        })
    }

    /// The layers this query searches, in catalog order.
    pub fn layers(&self, view: &View) -> Vec<LayerView> {
        view.layers()
            .filter(|l| l.search_columns().next().is_some())
            .filter(|l| {
                self.collections
                    .as_ref()
                    .is_none_or(|c| c.iter().any(|id| id == l.id()))
            })
            .collect()
    }
}

/// `q`: split at whitespace (U+3000 too) into terms, each folded.
fn parse_terms(q: &str) -> Result<Vec<String>, QueryError> {
    let terms: Vec<String> = q
        .split(char::is_whitespace)
        .map(text::fold)
        .filter(|t| !t.is_empty())
        .collect();
    if terms.is_empty() {
        return Err(bad("q", "must contain something to search for"));
    }
    Ok(terms)
}

/// One matching feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchHit {
    /// Position of the layer in the searched list.
    pub layer: usize,
    /// Index of the feature in that layer.
    pub index: usize,
    pub tier: Tier,
}

/// Every feature of `layers` in which each term occurs in some searched attribute the caller
/// may see, best first: by tier (a feature's tier is that of its weakest term, each term
/// taking its best attribute), then layer order, then feature order.
pub fn search(layers: &[LayerView], terms: &[String]) -> Vec<SearchHit> {
    let mut hits = Vec::new();
    for (li, layer) in layers.iter().enumerate() {
        let columns: Vec<&[Option<Box<str>>]> = layer.search_columns().map(|(_, v)| v).collect();
        for index in 0..layer.len() {
            let mut worst = Some(Tier::Exact);
            for term in terms {
                let best = columns
                    .iter()
                    .filter_map(|c| c[index].as_deref().and_then(|v| Tier::of(v, term)))
                    .min();
                worst = match (worst, best) {
                    (Some(w), Some(b)) => Some(w.max(b)),
                    _ => None,
                };
                if worst.is_none() {
                    break;
                }
            }
            if let Some(tier) = worst {
                hits.push(SearchHit {
                    layer: li,
                    index,
                    tier,
                });
            }
        }
    }
    // Stable: equal tiers keep layer order, then feature order.
    hits.sort_by_key(|h| h.tier);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_fold_and_split_on_any_space() {
        assert_eq!(
            parse_terms("ﾐﾄﾞﾘ　中央 ").expect("terms"),
            vec!["みどり", "中央"]
        );
        assert!(parse_terms(" 　 ").is_err());
    }

    #[test]
    fn tiers_order() {
        assert_eq!(Tier::of("みどり", "みどり"), Some(Tier::Exact));
        assert_eq!(Tier::of("みどり公園", "みどり"), Some(Tier::Prefix));
        assert_eq!(Tier::of("北みどり", "みどり"), Some(Tier::Substring));
        assert_eq!(Tier::of("さくら", "みどり"), None);
        assert!(Tier::Exact < Tier::Prefix && Tier::Prefix < Tier::Substring);
    }
}
