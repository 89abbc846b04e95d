//! Caps on live WebSocket connections, per chat and per API key.
//!
//! A connection reserves its slots before the upgrade is answered and holds a
//! [`SlotGuard`] until it ends, so concurrent upgrades cannot overshoot a cap on this
//! node. Only live connections are remembered, so memory is bounded by them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Which cap refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    Chat,
    Key,
}

#[derive(Default)]
struct Counts {
    chats: HashMap<i64, u32>,
    keys: HashMap<Uuid, u32>,
}

/// Live connections per chat and per key on this node, with their caps (0: no cap).
pub struct WsSlots {
    max_per_chat: u32,
    max_per_key: u32,
    counts: Arc<Mutex<Counts>>,
}

/// One connection's slots; given back on drop.
pub struct SlotGuard {
    counts: Arc<Mutex<Counts>>,
    chat_id: i64,
    key_id: Option<Uuid>,
}

fn lock(counts: &Mutex<Counts>) -> std::sync::MutexGuard<'_, Counts> {
    counts
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl WsSlots {
    pub fn new(max_per_chat: u32, max_per_key: u32) -> Self {
        WsSlots {
            max_per_chat,
            max_per_key,
            counts: Arc::default(),
        }
    }

    /// Reserves a slot for a connection to `chat_id` (through `key_id`, if a key was
    /// used). `chat_elsewhere` is the chat's connection count as the event bus reports it
    /// across every node; the chat is full when either that or this node's count reaches
    /// the cap.
    pub fn reserve(
        &self,
        chat_id: i64,
        key_id: Option<Uuid>,
        chat_elsewhere: u64,
    ) -> Result<SlotGuard, Full> {
        let mut counts = lock(&self.counts);
        let on_chat = counts.chats.get(&chat_id).copied().unwrap_or(0);
        if self.max_per_chat > 0
            && u64::from(on_chat).max(chat_elsewhere) >= u64::from(self.max_per_chat)
        {
            return Err(Full::Chat);
        }
        if let Some(key_id) = key_id {
            let on_key = counts.keys.get(&key_id).copied().unwrap_or(0);
            if self.max_per_key > 0 && on_key >= self.max_per_key {
                return Err(Full::Key);
            }
            *counts.keys.entry(key_id).or_default() += 1;
        }
        *counts.chats.entry(chat_id).or_default() += 1;
        Ok(SlotGuard {
            counts: self.counts.clone(),
            chat_id,
            key_id,
        })
    }

    /// This node's live connections to `chat_id` (reserved slots).
    pub fn on_chat(&self, chat_id: i64) -> u32 {
        lock(&self.counts).chats.get(&chat_id).copied().unwrap_or(0)
    }
}

fn release<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u32>, key: &K) {
    if let Some(count) = map.get_mut(key) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            map.remove(key);
        }
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        release(&mut counts.chats, &self.chat_id);
        if let Some(key_id) = self.key_id {
            release(&mut counts.keys, &key_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_chat_and_per_key_and_release_on_drop() {
        let slots = WsSlots::new(2, 3);
        let (key, other_key) = (Uuid::new_v4(), Uuid::new_v4());
        let a = slots.reserve(1, Some(key), 0).expect("first");
        let b = slots.reserve(1, None, 1).expect("second");
        assert_eq!(slots.reserve(1, Some(other_key), 0).err(), Some(Full::Chat));
        let c = slots.reserve(2, Some(key), 0).expect("other chat");
        let d = slots.reserve(3, Some(key), 0).expect("third for the key");
        assert_eq!(slots.reserve(4, Some(key), 0).err(), Some(Full::Key));
        assert!(
            slots.reserve(4, Some(other_key), 0).is_ok(),
            "other keys unaffected"
        );
        drop(a);
        assert_eq!(slots.on_chat(1), 1);
        let _e = slots.reserve(1, Some(key), 0).expect("slot given back");
        drop((b, c, d));
        assert_eq!(slots.on_chat(1), 1);
        assert_eq!(slots.on_chat(2), 0);
    }

    #[test]
    fn the_cluster_count_fills_a_chat_too() {
        let slots = WsSlots::new(2, 0);
        assert_eq!(slots.reserve(1, None, 2).err(), Some(Full::Chat));
        assert!(slots.reserve(1, None, 1).is_ok());
    }

    #[test]
    fn zero_means_unlimited_and_nothing_lingers() {
        let slots = WsSlots::new(0, 0);
        let key = Uuid::new_v4();
        let guards: Vec<_> = (0..100)
            .map(|_| slots.reserve(7, Some(key), 1000).expect("unlimited"))
            .collect();
        assert_eq!(slots.on_chat(7), 100);
        drop(guards);
        let counts = lock(&slots.counts);
        assert!(counts.chats.is_empty() && counts.keys.is_empty());
    }
}
