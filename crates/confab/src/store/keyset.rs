//! Keyset conditions over a user-chosen chat order.
//!
//! A chat listing's order is a list of (column, direction) that always ends with the
//! unique `id`, so "strictly after row K in this order" is the disjunction, over each
//! term i, of "every earlier term equals K's value and term i is past K's value". The
//! SQL is built only from the fixed column names of [`OrderBy`], never from client text.

use crate::domain::{OrderBy, OrderColumn};
use crate::store::ChatRecord;

/// The values a chat is sorted by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatKey {
    pub id: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub name: String,
    pub model: String,
    pub pinned: i64,
}

impl From<&ChatRecord> for ChatKey {
    fn from(chat: &ChatRecord) -> Self {
        ChatKey {
            id: chat.id,
            created_at: chat.created_at.micros(),
            updated_at: chat.updated_at.micros(),
            name: chat.name.clone(),
            model: chat.model.clone(),
            pinned: i64::from(chat.pinned),
        }
    }
}

/// Which side of a key a condition keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Rows listed after the key.
    After,
    /// Rows listed before the key.
    Before,
}

/// `(… OR …)` keeping the rows strictly on `side` of a key in `order`. The key's values
/// are parameters `$first`, `$first+1`, … in the order's term order (bind them with
/// [`key_values`]).
pub fn condition(order: &OrderBy, side: Side, first: usize) -> String {
    let terms = order.terms();
    let mut alternatives = Vec::with_capacity(terms.len());
    for (i, (column, descending)) in terms.iter().enumerate() {
        let mut parts: Vec<String> = terms[..i]
            .iter()
            .enumerate()
            .map(|(j, (earlier, _))| format!("{} = ${}", earlier.as_str(), first + j))
            .collect();
        let later = matches!(
            (side, descending),
            (Side::After, false) | (Side::Before, true)
        );
        parts.push(format!(
            "{} {} ${}",
            column.as_str(),
            if later { ">" } else { "<" },
            first + i
        ));
        alternatives.push(format!("({})", parts.join(" AND ")));
    }
    format!("({})", alternatives.join(" OR "))
}

/// One value to bind, per term of the order.
pub enum KeyValue<'a> {
    Int(i64),
    Text(&'a str),
}

/// The key's values in the order's term order, for the parameters of [`condition`].
pub fn key_values<'a>(order: &OrderBy, key: &'a ChatKey) -> Vec<KeyValue<'a>> {
    order
        .terms()
        .iter()
        .map(|(column, _)| match column {
            OrderColumn::Id => KeyValue::Int(key.id),
            OrderColumn::CreatedAt => KeyValue::Int(key.created_at),
            OrderColumn::UpdatedAt => KeyValue::Int(key.updated_at),
            OrderColumn::Name => KeyValue::Text(&key.name),
            OrderColumn::Model => KeyValue::Text(&key.model),
            OrderColumn::Pinned => KeyValue::Int(key.pinned),
        })
        .collect()
}

/// The order reversed term by term (to find rows just before a key).
pub fn reversed_sql(order: &OrderBy) -> String {
    order
        .terms()
        .iter()
        .map(|(column, desc)| format!("{} {}", column.as_str(), if *desc { "ASC" } else { "DESC" }))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_follow_each_terms_direction() {
        let order = OrderBy::default(); // updated_at DESC, id DESC
        assert_eq!(
            condition(&order, Side::After, 2),
            "((updated_at < $2) OR (updated_at = $2 AND id < $3))"
        );
        assert_eq!(
            condition(&order, Side::Before, 4),
            "((updated_at > $4) OR (updated_at = $4 AND id > $5))"
        );
        let mixed = OrderBy::parse("name:asc,created_at:desc").expect("valid order");
        assert_eq!(
            condition(&mixed, Side::After, 2),
            "((name > $2) OR (name = $2 AND created_at < $3) OR (name = $2 AND created_at = $3 AND id < $4))"
        );
        assert_eq!(reversed_sql(&mixed), "name DESC, created_at ASC, id ASC");
    }

    #[test]
    fn values_come_in_term_order() {
        let key = ChatKey {
            id: 7,
            created_at: 1,
            updated_at: 2,
            name: "n".into(),
            model: "m".into(),
            pinned: 1,
        };
        let order = OrderBy::parse("model:desc,updated_at").expect("valid order");
        let values: Vec<String> = key_values(&order, &key)
            .into_iter()
            .map(|v| match v {
                KeyValue::Int(i) => i.to_string(),
                KeyValue::Text(t) => t.to_owned(),
            })
            .collect();
        assert_eq!(values, ["m", "2", "7"]);
    }
}
