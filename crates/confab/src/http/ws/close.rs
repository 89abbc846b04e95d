//! Why the server ends a WebSocket connection on its own: the hub's signal (chat deleted,
//! consumer too slow, shutdown) or the connection's credential revoked, merged into one
//! future; and recognising a client message over the size limit.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::oneshot;

use crate::events::CloseReason;

/// Resolves with the first reason to close: the hub's, or
/// [`CloseReason::CredentialRevoked`] when the registration is told its credential is
/// revoked. Once resolved, it does not resolve again.
pub struct CloseSignal {
    hub: Option<oneshot::Receiver<CloseReason>>,
    revoked: Option<oneshot::Receiver<()>>,
}

impl CloseSignal {
    pub fn new(hub: oneshot::Receiver<CloseReason>, revoked: oneshot::Receiver<()>) -> Self {
        CloseSignal {
            hub: Some(hub),
            revoked: Some(revoked),
        }
    }

    /// The hub's reason, if it has already sent one.
    pub fn try_hub(&mut self) -> Option<CloseReason> {
        let reason = self.hub.as_mut()?.try_recv().ok()?;
        self.hub = None;
        Some(reason)
    }
}

impl Future for CloseSignal {
    type Output = CloseReason;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CloseReason> {
        if let Some(hub) = self.hub.as_mut() {
            if let Poll::Ready(reason) = Pin::new(hub).poll(cx) {
                self.hub = None;
                self.revoked = None;
                // The hub let go without a reason only when it is going away.
                return Poll::Ready(reason.unwrap_or(CloseReason::ServerShutdown));
            }
        }
        if let Some(revoked) = self.revoked.as_mut() {
            if let Poll::Ready(told) = Pin::new(revoked).poll(cx) {
                self.revoked = None;
                // A registration dropped without a word is not a revocation.
                if told.is_ok() {
                    self.hub = None;
                    return Poll::Ready(CloseReason::CredentialRevoked);
                }
            }
        }
        Poll::Pending
    }
}

/// Whether a read error is a client frame or message over the size limit (the
/// connection is then closed with 1009). Its payload is left unread: the connection must
/// not be read again, or the rest of the oversized frame would be buffered.
pub fn is_message_too_big(error: &axum::Error) -> bool {
    use std::error::Error as _;
    use tungstenite::error::{CapacityError, Error};
    matches!(
        error
            .source()
            .and_then(|inner| inner.downcast_ref::<Error>()),
        Some(Error::Capacity(CapacityError::MessageTooLong { .. }))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_reason_wins() {
        let (hub_tx, hub) = oneshot::channel();
        let (revoke_tx, revoked) = oneshot::channel();
        let mut signal = CloseSignal::new(hub, revoked);
        assert_eq!(signal.try_hub(), None);
        let _ = revoke_tx.send(());
        assert_eq!((&mut signal).await, CloseReason::CredentialRevoked);
        let _ = hub_tx.send(CloseReason::ChatDeleted);
        let again = tokio::time::timeout(std::time::Duration::from_millis(20), &mut signal);
        assert!(again.await.is_err(), "resolves once");

        let (hub_tx, hub) = oneshot::channel();
        let (revoke_tx, revoked) = oneshot::channel::<()>();
        let mut signal = CloseSignal::new(hub, revoked);
        drop(revoke_tx);
        let _ = hub_tx.send(CloseReason::TooSlow);
        assert_eq!((&mut signal).await, CloseReason::TooSlow);
    }

    #[tokio::test]
    async fn a_dropped_registration_is_not_a_revocation() {
        let (hub_tx, hub) = oneshot::channel();
        let (revoke_tx, revoked) = oneshot::channel::<()>();
        let mut signal = CloseSignal::new(hub, revoked);
        drop(revoke_tx);
        let pending = tokio::time::timeout(std::time::Duration::from_millis(20), &mut signal);
        assert!(pending.await.is_err());
        drop(hub_tx);
        assert_eq!(signal.await, CloseReason::ServerShutdown);
    }
}
