//! Search (SPEC §7): parse the query, ask the store for one page, cut each hit's
//! snippet. The scope (whose chats) comes from the caller's credential, never from input
//! alone.

use crate::domain::cursor::SearchPosition;
use crate::domain::search::{snippet, Query, Snippet};
use crate::store::{SearchHit, SearchRequest, SearchScope};

use super::error::ChatError;
use super::Chats;

/// One hit with its snippet (the hit's text is dropped once the snippet is cut).
pub struct Hit {
    pub hit: SearchHit,
    pub snippet: Snippet,
}

/// A page of hits and where the next page starts (`None` on the last page).
pub struct SearchPage {
    pub hits: Vec<Hit>,
    pub next: Option<SearchPosition>,
}

impl Chats {
    /// Up to `limit` hits of `q` in `scope`, after `after`.
    pub async fn search(
        &self,
        scope: SearchScope,
        q: &str,
        after: Option<SearchPosition>,
        limit: u32,
    ) -> Result<SearchPage, ChatError> {
        let query = Query::parse(q).map_err(ChatError::InvalidQuery)?;
        let request = SearchRequest {
            scope,
            query,
            after,
            limit: limit + 1,
            band_size: self.limits.search_band,
            first_window: self.limits.search_window,
        };
        let mut found = self.store.search(&request).await?;
        let next = if found.len() > limit as usize {
            found.truncate(limit as usize);
            found.last().map(|hit| hit.position)
        } else {
            None
        };
        let hits = found
            .into_iter()
            .map(|mut hit| {
                let snippet = snippet(&hit.text, &request.query);
                hit.text = String::new();
                Hit { hit, snippet }
            })
            .collect();
        Ok(SearchPage { hits, next })
    }
}
