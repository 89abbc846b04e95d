//! Search as confab defines it, independent of any engine: how text becomes words
//! ([`text`]), what a query means ([`query`]), how well a text matches ([`score`]), and
//! what a hit shows ([`snippet`]). The store turns the same words, and what the index
//! holds beside them ([`extras`]), into each engine's index and query syntax.

pub mod extras;
pub mod query;
pub mod score;
pub mod snippet;
pub mod text;

pub use query::{Query, QueryError, Term};
pub use snippet::{snippet, Snippet};
