//! Built tiles kept in memory, shared by callers whose views show the same content.
//!
//! A cached tile remembers the catalog generation it was built from. Before it is served to
//! a view of a later generation, the view's journal is asked whether any of the tile's layers
//! changed inside the tile (with its buffer) since then: an edit thus invalidates exactly the
//! tiles its old or new geometry touches, at every zoom, and no others. No lock is held while
//! a tile is built, and no swap of the catalog can leave a stale tile behind, because the
//! check is made against the very snapshot the caller reads.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::build::{self, LayerPlan, TileSet};
use super::grid::TileId;
use crate::access::View;

/// One tile in every encoding, with its strong validator.
#[derive(Debug)]
pub struct EncodedTile {
    /// The MVT bytes; empty for a tile with no feature.
    pub raw: Bytes,
    pub gzip: Bytes,
    pub brotli: Bytes,
    /// A hash of `raw`: equal tiles have equal tags whoever built them and whenever.
    pub etag: String,
}

impl EncodedTile {
    fn new(raw: Vec<u8>) -> EncodedTile {
        let digest = Sha256::digest(&raw);
        let etag = format!("\"{}\"", hex(&digest[..16]));
        let (gzip, brotli) = if raw.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            (gzip(&raw), brotli(&raw))
        };
        EncodedTile {
            raw: Bytes::from(raw),
            gzip: Bytes::from(gzip),
            brotli: Bytes::from(brotli),
            etag,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    fn weight(&self) -> u32 {
        (self.raw.len() + self.gzip.len() + self.brotli.len() + 128).min(u32::MAX as usize) as u32
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    // Writing into a Vec cannot fail.
    let _ = e.write_all(raw);
    e.finish().unwrap_or_default()
}

fn brotli(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        let _ = w.write_all(raw);
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    set: TileSet,
    tile: TileId,
    /// What the view shows in this tile set at this zoom (`build::content_key`).
    content: Arc<str>,
}

#[derive(Debug)]
struct Entry {
    generation: u64,
    tile: Arc<EncodedTile>,
}

/// The tile cache, bounded by the bytes it holds.
pub struct TileCache {
    entries: moka::sync::Cache<Key, Arc<Entry>>,
}

impl TileCache {
    /// A cache holding at most `bytes` of encoded tiles (0: no cache, every tile is built).
    pub fn new(bytes: u64) -> TileCache {
        TileCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(bytes)
                .weigher(|_, e: &Arc<Entry>| e.tile.weight())
                .build(),
        }
    }

    /// Tile `tile` of `set` as `view` shows it with `plans` (from `build::plan`), from the
    /// cache when a tile built for the same content is still true for this view's catalog.
    pub fn tile(
        &self,
        view: &View,
        set: &TileSet,
        tile: TileId,
        plans: &[LayerPlan],
    ) -> Arc<EncodedTile> {
        let key = Key {
            set: set.clone(),
            tile,
            content: Arc::from(build::content_key(plans)),
        };
        let now = view.generation();
        let layers: Vec<_> = plans.iter().map(|p| p.layer.clone()).collect();
        let cached = self.entries.get(&key);
        if let Some(e) = &cached {
            if e.generation == now {
                return Arc::clone(&e.tile);
            }
            if e.generation < now
                && view.unchanged_since(e.generation, &layers, &tile.buffered_bounds())
            {
                // Still true: mark it so, and later hits skip the journal.
                self.entries.insert(
                    key,
                    Arc::new(Entry {
                        generation: now,
                        tile: Arc::clone(&e.tile),
                    }),
                );
                return Arc::clone(&e.tile);
            }
        }
        let built = Arc::new(EncodedTile::new(build::build(plans, tile)));
        // A tile built from a newer catalog than this caller's stays: it is the truth now.
        if cached.is_none_or(|e| e.generation < now) {
            self.entries.insert(
                key,
                Arc::new(Entry {
                    generation: now,
                    tile: Arc::clone(&built),
                }),
            );
        }
        built
    }

    /// Drops every tile (tests, and benchmarks of uncached building).
    pub fn clear(&self) {
        self.entries.invalidate_all();
    }

    /// Tiles held now (approximate while moka settles its bookkeeping).
    pub fn len(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
