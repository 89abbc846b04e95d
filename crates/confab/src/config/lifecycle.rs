//! Flags of the data lifecycle (SPEC §9): the trash, retention, and the sweeper that
//! enforces both.

use clap::Args;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct LifecycleArgs {
    /// Days a deleted chat stays in the trash, where its owner can restore it, before the
    /// sweeper purges it. 0: deletes are permanent (and the sweeper purges whatever an
    /// earlier run left in the trash).
    #[arg(long, env = "CONFAB_TRASH_DAYS", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub trash_days: u32,
    /// Days after its last change a chat is deleted by the sweeper (0: kept forever). A
    /// tenant may have its own: `confab tenant set ID --retention-days N`.
    #[arg(long, env = "CONFAB_RETENTION_DAYS", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub retention_days: u32,
    /// Seconds between the sweeper's rounds.
    #[arg(long, env = "CONFAB_SWEEP_INTERVAL_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub sweep_interval_seconds: u64,
    /// Chats the sweeper deletes per transaction: each batch holds the writer briefly,
    /// and requests run between batches (the sweeper pauses at least three times as
    /// long as a batch took).
    #[arg(long, env = "CONFAB_SWEEP_BATCH", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub sweep_batch: u32,
}

impl LifecycleArgs {
    pub fn trash_enabled(&self) -> bool {
        self.trash_days > 0
    }

    pub fn sweep_interval(&self) -> Duration {
        Duration::from_secs(self.sweep_interval_seconds)
    }
}
