//! The sweeper (SPEC §9): purges trash older than `--trash-days` and deletes chats not
//! changed for their tenant's retention, in batches of short transactions with a pause
//! between them, so API writes keep their turn at the database's writer.

use std::time::Duration;

use super::error::ChatError;
use super::Chats;
use crate::config::lifecycle::LifecycleArgs;
use crate::domain::Timestamp;
use crate::store::SweepBatch;

/// Least pause between two batches: requests waiting for the writer go first.
const MIN_PAUSE: Duration = Duration::from_millis(20);
/// The pause is at least this many times the batch's own time, so the sweeper holds the
/// database's writer at most a quarter of the time however slow its batches are.
const PAUSE_PER_BATCH_TIME: u32 = 3;

const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

/// Why the sweeper deleted a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepReason {
    /// It was in the trash longer than `--trash-days`.
    Trash,
    /// It was not changed within its tenant's retention.
    Retention,
}

/// Chats one round deleted, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub trash: u64,
    pub retention: u64,
}

impl Chats {
    /// One round: every batch due now, until none is left (or another node is sweeping
    /// the same database). `counted` hears of each batch as it commits.
    pub async fn sweep(
        &self,
        lifecycle: &LifecycleArgs,
        counted: &(dyn Fn(SweepReason, u64) + Sync),
    ) -> Result<Swept, ChatError> {
        let now = Timestamp::now().micros();
        let mut swept = Swept::default();
        let trash = SweepBatch::Trash {
            trashed_before: Timestamp(now - i64::from(lifecycle.trash_days) * MICROS_PER_DAY),
            limit: lifecycle.sweep_batch,
        };
        let count_trash = |n| counted(SweepReason::Trash, n);
        swept.trash = self
            .sweep_all(&trash, lifecycle.sweep_batch, &count_trash)
            .await?;
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
            let count_idle = |n| counted(SweepReason::Retention, n);
            swept.retention += self
                .sweep_all(&idle, lifecycle.sweep_batch, &count_idle)
                .await?;
        }
        Ok(swept)
    }

    /// Runs `batch` until a batch deletes fewer than `limit`; how many it deleted.
    async fn sweep_all(
        &self,
        batch: &SweepBatch,
        limit: u32,
        counted: &(dyn Fn(u64) + Sync),
    ) -> Result<u64, ChatError> {
        let mut total = 0;
        loop {
            let started = std::time::Instant::now();
            let Some(deleted) = self.store.sweep_batch(batch).await? else {
                return Ok(total); // another node holds the sweep
            };
            let took = started.elapsed();
            total += deleted.len() as u64;
            counted(deleted.len() as u64);
            self.announce_deleted(&deleted, true).await;
            if deleted.len() < limit as usize {
                return Ok(total);
            }
            tokio::time::sleep(MIN_PAUSE.max(took * PAUSE_PER_BATCH_TIME)).await;
        }
    }
}
