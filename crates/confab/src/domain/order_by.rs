//! `order_by=column:dir[,column:dir]` for listing a user's chats.

use super::values::ValueError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderColumn {
    Id,
    CreatedAt,
    UpdatedAt,
    Name,
    Model,
    /// 1 for a pinned chat, 0 otherwise: `pinned:desc` lists pinned chats first.
    Pinned,
}

impl OrderColumn {
    /// The column's name in SQL and in the query string; the same in every backend.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderColumn::Id => "id",
            OrderColumn::CreatedAt => "created_at",
            OrderColumn::UpdatedAt => "updated_at",
            OrderColumn::Name => "name",
            OrderColumn::Model => "model",
            OrderColumn::Pinned => "pinned",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "id" => OrderColumn::Id,
            "created_at" => OrderColumn::CreatedAt,
            "updated_at" => OrderColumn::UpdatedAt,
            "name" => OrderColumn::Name,
            "model" => OrderColumn::Model,
            "pinned" => OrderColumn::Pinned,
            _ => return None,
        })
    }
}

/// A validated sort order. It always ends with `id`, so every order is total and a
/// listing never changes between two identical requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy(Vec<(OrderColumn, bool)>);

impl Default for OrderBy {
    /// `updated_at:desc`, the order a chat sidebar shows.
    fn default() -> Self {
        OrderBy(vec![
            (OrderColumn::UpdatedAt, true),
            (OrderColumn::Id, true),
        ])
    }
}

impl OrderBy {
    /// Parses `column:dir[,column:dir]`; `dir` is `asc` or `desc` and defaults to `asc`.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let mut terms: Vec<(OrderColumn, bool)> = Vec::new();
        for term in input.split(',') {
            let (column, dir) = match term.split_once(':') {
                Some((column, dir)) => (column.trim(), dir.trim()),
                None => (term.trim(), "asc"),
            };
            let column = OrderColumn::parse(column).ok_or_else(|| {
                ValueError(format!(
                    "order_by: unknown column {column:?}; use id, created_at, updated_at, name, model or pinned"
                ))
            })?;
            let descending = match dir.to_ascii_lowercase().as_str() {
                "asc" => false,
                "desc" => true,
                _ => {
                    return Err(ValueError(format!(
                        "order_by: direction must be asc or desc, not {dir:?}"
                    )))
                }
            };
            if terms.iter().any(|(seen, _)| *seen == column) {
                return Err(ValueError(format!(
                    "order_by: column {} given twice",
                    column.as_str()
                )));
            }
            terms.push((column, descending));
        }
        if !terms.iter().any(|(column, _)| *column == OrderColumn::Id) {
            let tie_break_descending = terms.last().is_some_and(|(_, desc)| *desc);
            terms.push((OrderColumn::Id, tie_break_descending));
        }
        Ok(OrderBy(terms))
    }

    pub fn terms(&self) -> &[(OrderColumn, bool)] {
        &self.0
    }

    /// The SQL `ORDER BY` list. Built only from the fixed column names above, never from
    /// client text, so it is safe to splice into a query.
    pub fn to_sql(&self) -> String {
        self.0
            .iter()
            .map(|(column, desc)| {
                format!("{} {}", column.as_str(), if *desc { "DESC" } else { "ASC" })
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(
            OrderBy::parse("updated_at:desc").map(|o| o.to_sql()),
            Ok("updated_at DESC, id DESC".into())
        );
        assert_eq!(
            OrderBy::parse("name:asc,created_at:DESC").map(|o| o.to_sql()),
            Ok("name ASC, created_at DESC, id DESC".into())
        );
        assert_eq!(
            OrderBy::parse("id:asc,name:desc").map(|o| o.to_sql()),
            Ok("id ASC, name DESC".into())
        );
        assert_eq!(
            OrderBy::parse("name").map(|o| o.to_sql()),
            Ok("name ASC, id ASC".into())
        );
    }

    #[test]
    fn refuses_unknown_columns_directions_and_repeats() {
        for bad in [
            "",
            "password:asc",
            "name:up",
            "name:asc,name:desc",
            "id;drop table",
            ",",
        ] {
            assert!(OrderBy::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    proptest! {
        /// Whatever the input, a parsed order only ever renders known words.
        #[test]
        fn never_renders_client_text(input in ".{0,60}") {
            if let Ok(order) = OrderBy::parse(&input) {
                let sql = order.to_sql();
                for word in sql.split([',', ' ']).filter(|w| !w.is_empty()) {
                    prop_assert!(
                        ["id", "created_at", "updated_at", "name", "model", "pinned", "ASC", "DESC"].contains(&word),
                        "unexpected word {word:?} in {sql:?}"
                    );
                }
                prop_assert!(order.terms().iter().any(|(c, _)| *c == OrderColumn::Id));
            }
        }
    }
}
