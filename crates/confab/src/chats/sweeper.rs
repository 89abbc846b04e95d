//! The sweeper (SPEC §9): purges trash older than `--trash-days` and deletes chats not
//! changed for their tenant's retention, in batches of short transactions with a pause
//! between them, so API writes keep their turn at the database's writer.

use std::time::Duration;

use super::error::ChatError;
use super::Chats;
use crate::config::lifecycle::LifecycleArgs;
use crate::domain::Timestamp;
use crate::store::SweepBatch;
use crate::views::frames;

/// Pause between two batches: requests waiting for the writer go first.
const BATCH_PAUSE: Duration = Duration::from_millis(20);

const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

/// Chats one round deleted, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub trash: u64,
    pub retention: u64,
}

impl Chats {
    /// One round: every batch due now, until none is left (or another node is sweeping
    /// the same database).
    pub async fn sweep(&self, lifecycle: &LifecycleArgs) -> Result<Swept, ChatError> {
        let now = Timestamp::now().micros();
        let mut swept = Swept::default();
        let trash = SweepBatch::Trash {
            trashed_before: Timestamp(now - i64::from(lifecycle.trash_days) * MICROS_PER_DAY),
            limit: lifecycle.sweep_batch,
        };
        swept.trash = self.sweep_all(&trash, lifecycle.sweep_batch).await?;
        for tenant in self.store.list_tenants().await? {
            let days = tenant
                .retention_days
                .unwrap_or(i64::from(lifecycle.retention_days));
            if days <= 0 {
                continue;
            }
            let idle = SweepBatch::Idle {
                tenant_id: tenant.id,
                idle_before: Timestamp(now.saturating_sub(days.saturating_mul(MICROS_PER_DAY))),
                limit: lifecycle.sweep_batch,
            };
            swept.retention += self.sweep_all(&idle, lifecycle.sweep_batch).await?;
        }
        Ok(swept)
    }

    /// Runs `batch` until a batch deletes fewer than `limit`; how many it deleted.
    async fn sweep_all(&self, batch: &SweepBatch, limit: u32) -> Result<u64, ChatError> {
        let mut total = 0;
        loop {
            let Some(deleted) = self.store.sweep_batch(batch).await? else {
                return Ok(total); // another node holds the sweep
            };
            total += deleted.len() as u64;
            for chat in deleted.iter().filter(|c| c.trashed_at.is_none()) {
                self.events.publish(frames::chat_deleted(chat)).await;
            }
            if deleted.len() < limit as usize {
                return Ok(total);
            }
            tokio::time::sleep(BATCH_PAUSE).await;
        }
    }
}
