//! The delete-last planner of SPEC §2, as a pure function over actors.
//!
//! The store feeds it the chat's messages newest first and stops reading as soon as the
//! planner has seen enough, so the plan never needs the whole chat in memory.

use super::values::Actor;

/// What to delete, counted from the newest message backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteLastPlan {
    /// The chat has no messages: answer 400.
    NoMessages,
    /// Delete the `trailing` newest messages (all `user`); fewer than two remain before them.
    TrailingOnly { trailing: usize },
    /// Delete the `trailing` newest `user` messages and the two messages before them.
    Exchange { trailing: usize },
}

impl DeleteLastPlan {
    /// How many of the newest messages the plan removes.
    pub fn total(self) -> usize {
        match self {
            DeleteLastPlan::NoMessages => 0,
            DeleteLastPlan::TrailingOnly { trailing } => trailing,
            DeleteLastPlan::Exchange { trailing } => trailing + 2,
        }
    }
}

/// Incremental planner: push actors newest first until [`Planner::wants_more`] is false.
#[derive(Debug, Default)]
pub struct Planner {
    seen: usize,
    trailing: usize,
    in_trailing_run: bool,
    started: bool,
}

impl Planner {
    pub fn new() -> Self {
        Planner::default()
    }

    /// Whether one more (older) message could change the plan.
    pub fn wants_more(&self) -> bool {
        !self.started || self.in_trailing_run || self.seen < self.trailing + 2
    }

    pub fn push(&mut self, actor: Actor) {
        if !self.started {
            self.started = true;
            self.in_trailing_run = true;
        }
        if self.in_trailing_run && actor == Actor::User {
            self.trailing += 1;
        } else {
            self.in_trailing_run = false;
        }
        self.seen += 1;
    }

    pub fn finish(self) -> DeleteLastPlan {
        if self.seen == 0 {
            DeleteLastPlan::NoMessages
        } else if self.seen - self.trailing < 2 {
            DeleteLastPlan::TrailingOnly {
                trailing: self.trailing,
            }
        } else {
            DeleteLastPlan::Exchange {
                trailing: self.trailing,
            }
        }
    }
}

/// Plans over a whole newest-first sequence (reads only what it needs).
pub fn plan(newest_first: impl IntoIterator<Item = Actor>) -> DeleteLastPlan {
    let mut planner = Planner::new();
    for actor in newest_first {
        if !planner.wants_more() {
            break;
        }
        planner.push(actor);
    }
    planner.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use Actor::{Assistant as A, System as S, User as U};

    /// SPEC §2 written out literally over the chronological list; returns the indexes
    /// (chronological) that are deleted, or None for "no messages".
    fn spec(chronological: &[Actor]) -> Option<Vec<usize>> {
        if chronological.is_empty() {
            return None;
        }
        let mut t_start = chronological.len();
        while t_start > 0 && chronological[t_start - 1] == U {
            t_start -= 1;
        }
        let mut deleted: Vec<usize> = (t_start..chronological.len()).collect();
        if t_start >= 2 {
            deleted.splice(0..0, [t_start - 2, t_start - 1]);
        }
        Some(deleted)
    }

    fn chrono(newest_first: &[Actor]) -> Vec<Actor> {
        newest_first.iter().rev().copied().collect()
    }

    #[test]
    fn the_documented_cases() {
        assert_eq!(plan([]), DeleteLastPlan::NoMessages);
        // normal pair: user, assistant
        assert_eq!(plan([A, U]), DeleteLastPlan::Exchange { trailing: 0 });
        // only trailing user messages
        assert_eq!(
            plan([U, U, U]),
            DeleteLastPlan::TrailingOnly { trailing: 3 }
        );
        // trailing user messages after a pair
        assert_eq!(plan([U, U, A, U]), DeleteLastPlan::Exchange { trailing: 2 });
        // a lone message of either kind
        assert_eq!(plan([U]), DeleteLastPlan::TrailingOnly { trailing: 1 });
        assert_eq!(plan([A]), DeleteLastPlan::TrailingOnly { trailing: 0 });
        // one non-user message before the trailing run: fewer than two remain
        assert_eq!(plan([U, S]), DeleteLastPlan::TrailingOnly { trailing: 1 });
        // "the last two messages of L" whatever their actors
        assert_eq!(plan([S, S, S]), DeleteLastPlan::Exchange { trailing: 0 });
    }

    #[test]
    fn stops_reading_once_the_plan_is_known() {
        let mut read = 0;
        let long = std::iter::repeat_n(A, 1000).inspect(|_| read += 1);
        assert_eq!(plan(long), DeleteLastPlan::Exchange { trailing: 0 });
        assert_eq!(
            read, 3,
            "reads two messages and one more to see the run ended"
        );
    }

    proptest! {
        #[test]
        fn agrees_with_the_spec_on_every_sequence(
            newest_first in proptest::collection::vec(prop_oneof![Just(U), Just(A), Just(S)], 0..12)
        ) {
            let expected = spec(&chrono(&newest_first));
            let got = plan(newest_first.iter().copied());
            match expected {
                None => prop_assert_eq!(got, DeleteLastPlan::NoMessages),
                Some(indexes) => {
                    // The plan removes exactly the newest `total` messages, and those are
                    // exactly the spec's set.
                    let n = newest_first.len();
                    let from_plan: Vec<usize> = (n - got.total()..n).collect();
                    prop_assert_eq!(from_plan, indexes);
                }
            }
        }
    }
}
