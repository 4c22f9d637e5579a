//! Feature ids of view layers. An edited layer numbers its features 1, 2, 3 …; a public view
//! showing some of them under those numbers would tell anyone how many reports the town has
//! received, including the ones it does not show. A view serves instead a keyed permutation of
//! the number: 16 hex digits that look random, are stable (the key is kept in the edit store)
//! and turn back into the number without a lookup table.
//!
//! The permutation is a balanced Feistel network on 64 bits with SHA-256 of the key, round and
//! half-block as round function: 8 rounds, well past the 4 that make it a pseudorandom
//! permutation when the round function is pseudorandom.

use sha2::{Digest, Sha256};

const ROUNDS: u8 = 8;

/// Turns edited-layer feature numbers into view ids and back, under one key.
#[derive(Clone)]
pub struct ViewIds {
    key: [u8; 32],
    /// The same permutation under a key derived for the live stream's event ids.
    events: Option<Box<ViewIds>>,
}

impl std::fmt::Debug for ViewIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ViewIds(…)")
    }
}

impl ViewIds {
    pub fn new(key: [u8; 32]) -> ViewIds {
        let mut h = Sha256::new();
        h.update(key);
        h.update(b"machimap live event ids");
        let events = ViewIds {
            key: h.finalize().into(),
            events: None,
        };
        ViewIds {
            key,
            events: Some(Box::new(events)),
        }
    }

    /// Ids of the live stream's events, for change-log positions: the stream of a view must
    /// not number its events by the log, whose gaps would count writes its reader cannot
    /// see (other layers, reports that are not public). Under a key of their own, an event id
    /// and a feature id never tell of each other.
    pub fn events(&self) -> &ViewIds {
        self.events.as_deref().unwrap_or(self)
    }

    fn round(&self, round: u8, half: u32) -> u32 {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update([round]);
        h.update(half.to_be_bytes());
        let d = h.finalize();
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }

    /// The view id of feature number `fid`.
    pub fn encode(&self, fid: i64) -> String {
        let block = fid as u64;
        let (mut l, mut r) = ((block >> 32) as u32, block as u32);
        for round in 0..ROUNDS {
            (l, r) = (r, l ^ self.round(round, r));
        }
        format!("{:016x}", (u64::from(l) << 32) | u64::from(r))
    }

    /// The feature number behind a view id; `None` for text that no number encodes to.
    pub fn decode(&self, id: &str) -> Option<i64> {
        if id.len() != 16 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let block = u64::from_str_radix(id, 16).ok()?;
        let (mut l, mut r) = ((block >> 32) as u32, block as u32);
        for round in (0..ROUNDS).rev() {
            (l, r) = (r ^ self.round(round, l), l);
        }
        let fid = ((u64::from(l) << 32) | u64::from(r)) as i64;
        (fid > 0).then_some(fid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_turn_back_into_numbers_and_reveal_no_order() {
        let ids = ViewIds::new([7; 32]);
        let encoded: Vec<String> = (1..=2000).map(|n| ids.encode(n)).collect();
        for (n, id) in (1..=2000).zip(&encoded) {
            assert_eq!(ids.decode(id), Some(n), "{id}");
            assert_eq!(id.len(), 16);
        }
        let distinct: std::collections::BTreeSet<&String> = encoded.iter().collect();
        assert_eq!(distinct.len(), encoded.len());
        // Consecutive numbers give unrelated ids: about half the ids sort before their
        // predecessor, and no id shares a long prefix with the next.
        let descents = encoded.windows(2).filter(|w| w[1] < w[0]).count();
        assert!((800..1200).contains(&descents), "{descents}");
        assert!(encoded.windows(2).all(|w| w[0][..6] != w[1][..6]));
        // Another key, other ids.
        let other = ViewIds::new([8; 32]);
        assert!((1..=100).all(|n| other.encode(n) != ids.encode(n)));
        assert_ne!(other.decode(&ids.encode(5)), Some(5));
        // Event ids are another permutation again, and turn back too.
        let events = ids.events();
        assert!((1..=100).all(|n| events.encode(n) != ids.encode(n)));
        assert_eq!(events.decode(&events.encode(77)), Some(77));
    }

    #[test]
    fn text_that_is_not_an_id_decodes_to_nothing() {
        let ids = ViewIds::new([1; 32]);
        for bad in [
            "",
            "12",
            "0123456789abcdeg",
            "0123456789ABCDEF",
            "0123456789abcdef0",
        ] {
            assert_eq!(ids.decode(bad), None, "{bad:?}");
        }
    }
}
