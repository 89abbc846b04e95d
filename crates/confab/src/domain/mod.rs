//! Domain types: parsed once from input, valid by construction, free of I/O.

pub mod code_blocks;
pub mod cursor;
pub mod delete_last;
pub mod metadata;
pub mod normalize;
pub mod order_by;
pub mod organise;
pub mod reply;
pub mod search;
pub mod timestamp;
pub mod values;

pub use metadata::Metadata;
pub use order_by::{OrderBy, OrderColumn};
pub use organise::{ArchivedFilter, ChatChanges, ChatFilter, Tags};
pub use reply::{ReplyStatus, StreamMarks};
pub use timestamp::Timestamp;
pub use values::{Actor, ChatName, Email, MessageText, ModelName, Password, ValueError};
