//! Storage quotas as the store enforces them: the counters live in the database (see
//! migration 0002) and are compared inside the write's own transaction, after the chat's
//! (or user's, or tenant's) row lock is taken, so concurrent writes cannot both pass a
//! check that only one of them fits under.

pub use crate::config::StorageQuotas;

/// Which quota a write would have exceeded, with its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuotaExceeded {
    #[error("this chat already holds the most messages allowed ({0})")]
    MessagesPerChat(u64),
    #[error("this user already owns the most chats allowed ({0})")]
    ChatsPerUser(u64),
    #[error("this would take the tenant's stored message text over its quota of {0} bytes")]
    TenantMessageBytes(u64),
}

/// `Err` when `value` (the count after the write) is over `limit`; a limit of 0 is off.
pub fn within(
    limit: u64,
    value: i64,
    exceeded: fn(u64) -> QuotaExceeded,
) -> Result<(), QuotaExceeded> {
    if limit > 0 && u64::try_from(value).unwrap_or(0) > limit {
        Err(exceeded(limit))
    } else {
        Ok(())
    }
}

/// Bytes of message text a batch stores, as the counters count them (UTF-8 bytes).
pub fn text_bytes<'a>(texts: impl IntoIterator<Item = &'a str>) -> i64 {
    texts
        .into_iter()
        .map(|text| i64::try_from(text.len()).unwrap_or(i64::MAX))
        .fold(0i64, i64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_the_limit_passes_over_it_fails_and_zero_is_off() {
        assert_eq!(within(3, 3, QuotaExceeded::MessagesPerChat), Ok(()));
        assert_eq!(
            within(3, 4, QuotaExceeded::MessagesPerChat),
            Err(QuotaExceeded::MessagesPerChat(3))
        );
        assert_eq!(within(0, i64::MAX, QuotaExceeded::ChatsPerUser), Ok(()));
        assert_eq!(text_bytes(["ab", "é"]), 4);
    }
}
