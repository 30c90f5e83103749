//! Decoded sessions, kept by their exact encoded text.
//!
//! Decoding `session_data` (HMAC check, base64, zlib, JSON) is a pure function of the text
//! and the codec's keys, and a logged-in client presents the same text on every request
//! until the session changes. [`DecodeCache`] keeps the result of each successful decode so
//! that the next request with the same text skips that work.
//!
//! What it does not change:
//! - The store is still asked on every request. The cache holds no session by key, only the
//!   meaning of a text the store has just returned, so a session that Django (or another
//!   Sesame) changed, cycled or deleted is seen at once.
//! - Only decodes that verified are kept, under the whole text (`HashMap` equality, not a
//!   hash of it): text that was never signed with the codec's keys is never found in it and
//!   goes through the full check, which an attacker therefore cannot skip or fill.
//! - Expiry is the store's, as before; the decode never looked at the signature's timestamp.
//!
//! Bounded by bytes, with quick_cache's S3-FIFO eviction, so that a flood of distinct valid
//! sessions costs at most about the budget. The bound is an estimate: an entry is counted as
//! its text plus eight times its JSON (a decoded map of strings takes a few times its JSON;
//! one of many tiny numbers up to about sixteen times).

use super::SessionData;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use std::sync::Arc;

/// The default budget of a codec's cache, about 8 MiB: some 5,000 typical logged-in
/// sessions.
pub const DEFAULT_DECODE_CACHE_BYTES: usize = 8 * 1024 * 1024;

/// What an entry costs beyond its text and JSON: the map, the `Arc`, the slot.
const ENTRY_OVERHEAD: u64 = 160;

/// A decoded session and what it weighs.
pub(crate) struct Decoded {
    pub(crate) data: SessionData,
    weight: u64,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<Box<str>, Arc<Decoded>> for ByBytes {
    fn weight(&self, _key: &Box<str>, value: &Arc<Decoded>) -> u64 {
        value.weight
    }
}

/// The cache of one codec (shared by its clones).
pub(crate) struct DecodeCache {
    entries: Cache<Box<str>, Arc<Decoded>, ByBytes>,
    budget: u64,
}

impl std::fmt::Debug for DecodeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodeCache")
            .field("entries", &self.entries.len())
            .field("bytes", &self.entries.weight())
            .field("budget", &self.budget)
            .finish()
    }
}

impl DecodeCache {
    /// A cache of at most `budget` bytes; `None` for a budget of 0 (no cache).
    pub(crate) fn new(budget: usize) -> Option<Self> {
        let budget = u64::try_from(budget).ok().filter(|b| *b > 0)?;
        let items = usize::try_from(budget / 512).unwrap_or(usize::MAX).max(16);
        Some(Self {
            entries: Cache::with_weighter(items, budget, ByBytes),
            budget,
        })
    }

    /// The decoded session for exactly this text, if it was decoded before.
    pub(crate) fn get(&self, encoded: &str) -> Option<Arc<Decoded>> {
        self.entries.get(encoded)
    }

    /// Keep a successful decode of `encoded`, whose JSON was `json_len` bytes.
    pub(crate) fn insert(&self, encoded: &str, data: SessionData, json_len: usize) -> Arc<Decoded> {
        let weight = (encoded.len() as u64)
            .saturating_add((json_len as u64).saturating_mul(8))
            .saturating_add(ENTRY_OVERHEAD);
        let decoded = Arc::new(Decoded { data, weight });
        // An entry over the whole budget is not kept (quick_cache refuses it too).
        if weight <= self.budget {
            self.entries.insert(encoded.into(), decoded.clone());
        }
        decoded
    }

    /// How many decoded sessions are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The bytes they weigh.
    #[cfg(test)]
    pub(crate) fn weight(&self) -> u64 {
        self.entries.weight()
    }
}
