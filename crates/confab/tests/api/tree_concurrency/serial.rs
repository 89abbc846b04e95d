//! The serial replay of the concurrent calls: a chat's tree as the test models it, what
//! each call reported, and a search for an order of the calls that explains them all.

use std::collections::HashSet;

use crate::support::tree::{Node, Tree};

/// A chat's tree and current leaf, as the replay needs them.
pub type State = Tree<()>;

fn node(parent: Option<i64>, actor: &'static str) -> Node<()> {
    Node {
        parent,
        actor,
        data: (),
    }
}

/// What one concurrent call reported.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seen {
    /// A post: its new id and parent; `asked` is the `parent_id` it named, if any.
    Posted {
        id: i64,
        parent: Option<i64>,
        asked: Option<i64>,
        actor: &'static str,
    },
    /// A post naming a parent that is no message of the chat (any more): 400.
    ParentRefused(i64),
    /// An edit of `target`: the new sibling's id and parent.
    Edited {
        target: i64,
        id: i64,
        parent: Option<i64>,
    },
    /// An edit of a message that is gone: 404.
    EditMissed(i64),
    /// A switch to `target`, answering this active path.
    Switched { target: i64, path: Vec<i64> },
    /// A switch to a message that is gone: 400.
    SwitchRefused(i64),
    /// A delete-last reporting these (path) ids, sorted.
    Deleted(Vec<i64>),
    /// A delete-last on an empty path: 400.
    Empty,
}

/// Replays one call on `state`: the state after it, or `None` if the call cannot have
/// answered what it did from there.
fn replay(state: &State, seen: &Seen) -> Option<State> {
    let mut next = state.clone();
    match seen {
        Seen::Posted {
            id,
            parent,
            asked,
            actor,
        } => {
            let under = match asked {
                Some(asked) if state.contains(*asked) => Some(*asked),
                Some(_) => return None,
                None => state.current,
            };
            (*parent == under).then(|| {
                next.add(*id, node(*parent, actor));
                next
            })
        }
        Seen::Edited { target, id, parent } => {
            let original = state.get(*target)?;
            (original.parent == *parent).then(|| {
                next.add(*id, node(*parent, original.actor));
                next
            })
        }
        Seen::Switched { target, path } => {
            let leaf = state.newest_leaf(*target)?;
            (state.path_to(Some(leaf)).as_ref() == Some(path)).then(|| {
                next.current = Some(leaf);
                next
            })
        }
        Seen::Deleted(ids) => {
            let plan = state.plan_delete_last().filter(|plan| plan.ids() == *ids)?;
            next.delete_last(&plan);
            Some(next)
        }
        Seen::Empty => state.path().is_empty().then_some(next),
        // Refusals change nothing: the named message is gone (for good) at that moment.
        Seen::ParentRefused(target) | Seen::EditMissed(target) | Seen::SwitchRefused(target) => {
            (!state.contains(*target)).then_some(next)
        }
    }
}

/// Searches for a serial order of the observed calls that, replayed from `start`, gives
/// every observed answer and ends in `end`. Posts and edits commit in id order (ids are
/// assigned under the chat's write lock), so only where the other calls fall is open;
/// a call that can change nothing (a refusal, an empty delete-last) is placed at the
/// first moment it fits (placing it there never rules anything out).
pub fn explain_serially(start: &State, observed: &[Seen], end: &State) -> bool {
    let mut creators: Vec<&Seen> = observed
        .iter()
        .filter(|s| matches!(s, Seen::Posted { .. } | Seen::Edited { .. }))
        .collect();
    creators.sort_by_key(|s| match s {
        Seen::Posted { id, .. } | Seen::Edited { id, .. } => *id,
        _ => 0,
    });
    let others: Vec<&Seen> = observed
        .iter()
        .filter(|s| !matches!(s, Seen::Posted { .. } | Seen::Edited { .. }))
        .collect();

    /// Where a search stands: the next creator, the other calls placed, the tree
    /// (id, parent) and the current leaf.
    type Place = (usize, Vec<bool>, Vec<(i64, Option<i64>)>, Option<i64>);
    struct Search<'a> {
        creators: Vec<&'a Seen>,
        others: Vec<&'a Seen>,
        end: &'a State,
        budget: u32,
        /// Places already searched in vain.
        dead: HashSet<Place>,
    }
    impl Search<'_> {
        fn go(&mut self, state: &State, next: usize, used: &mut Vec<bool>) -> bool {
            if self.budget == 0 {
                return false;
            }
            self.budget -= 1;
            // Calls that change nothing wherever they fit (refusals, a delete-last on an
            // empty path or with nothing to delete): place them now. A switch is not one
            // of them: it changes nothing where its leaf is current already, but the same
            // answer can also be a real move from elsewhere.
            let mut placed_here = Vec::new();
            for (i, seen) in self.others.iter().enumerate() {
                if !used[i]
                    && !matches!(seen, Seen::Switched { .. })
                    && replay(state, seen).as_ref() == Some(state)
                {
                    used[i] = true;
                    placed_here.push(i);
                }
            }
            let found = self.branch(state, next, used);
            for i in placed_here {
                used[i] = false;
            }
            found
        }

        fn branch(&mut self, state: &State, next: usize, used: &mut Vec<bool>) -> bool {
            if next == self.creators.len() && used.iter().all(|u| *u) {
                return state == self.end;
            }
            let key = (
                next,
                used.clone(),
                state
                    .messages
                    .iter()
                    .map(|(id, n)| (*id, n.parent))
                    .collect(),
                state.current,
            );
            if self.dead.contains(&key) {
                return false;
            }
            if let Some(after) = self.creators.get(next).and_then(|seen| replay(state, seen)) {
                if self.go(&after, next + 1, used) {
                    return true;
                }
            }
            let mut tried: HashSet<&Seen> = HashSet::new();
            for i in 0..self.others.len() {
                if used[i] || !tried.insert(self.others[i]) {
                    continue;
                }
                if let Some(after) = replay(state, self.others[i]) {
                    used[i] = true;
                    let found = self.go(&after, next, used);
                    used[i] = false;
                    if found {
                        return true;
                    }
                }
            }
            self.dead.insert(key);
            false
        }
    }

    let mut search = Search {
        creators,
        others,
        end,
        budget: 1_000_000,
        dead: HashSet::new(),
    };
    let mut used = vec![false; search.others.len()];
    let found = search.go(start, 0, &mut used);
    assert!(
        found || search.budget > 0,
        "the search for a serial order ran out of steps: inconclusive"
    );
    found
}

#[cfg(test)]
mod serial_checker {
    use super::*;

    /// 1 user → 2 assistant → 3 user, and 4 (an edit of 3); current 3.
    fn start() -> State {
        let mut state = State::default();
        for (id, parent, actor) in [
            (1, None, "user"),
            (2, Some(1), "assistant"),
            (4, Some(2), "user"),
            (3, Some(2), "user"),
        ] {
            state.add(id, node(parent, actor));
        }
        state
    }

    fn without(state: &State, ids: &[i64], current: Option<i64>) -> State {
        let mut state = state.clone();
        state.messages.retain(|id, _| !ids.contains(id));
        state.current = current;
        state
    }

    #[test]
    fn the_tree_serial_checker_accepts_real_histories() {
        let start = start();
        // Delete-last takes 3 (a trailing user message) and the exchange 1, 2 — and 4
        // with them.
        let deleted = Seen::Deleted(vec![1, 2, 3]);
        assert!(explain_serially(
            &start,
            std::slice::from_ref(&deleted),
            &without(&start, &[1, 2, 3, 4], None)
        ));
        // A post under the current leaf, then a switch to 4's branch.
        let mut end = start.clone();
        end.add(5, node(Some(3), "assistant"));
        end.current = Some(4);
        let history = [
            Seen::Switched {
                target: 4,
                path: vec![1, 2, 4],
            },
            Seen::Posted {
                id: 5,
                parent: Some(3),
                asked: None,
                actor: "assistant",
            },
        ];
        assert!(explain_serially(&start, &history, &end));
        // An edit of 3 after the delete: 404, and the tree is empty.
        let history = [deleted, Seen::EditMissed(3)];
        assert!(explain_serially(
            &start,
            &history,
            &without(&start, &[1, 2, 3, 4], None)
        ));
    }

    #[test]
    fn the_tree_serial_checker_rejects_impossible_histories() {
        let start = start();
        // Delete-last cannot report half an exchange, nor leave 4 behind.
        assert!(!explain_serially(
            &start,
            &[Seen::Deleted(vec![3])],
            &without(&start, &[3], Some(2))
        ));
        assert!(!explain_serially(
            &start,
            &[Seen::Deleted(vec![1, 2, 3])],
            &without(&start, &[1, 2, 3], None)
        ));
        // A post without parent_id goes under the current leaf, not elsewhere.
        let mut end = start.clone();
        end.add(5, node(Some(4), "assistant"));
        let post = Seen::Posted {
            id: 5,
            parent: Some(4),
            asked: None,
            actor: "assistant",
        };
        assert!(!explain_serially(&start, std::slice::from_ref(&post), &end));
        // ... unless a switch to 4 came first, which must then answer 4's path.
        let switched = Seen::Switched {
            target: 4,
            path: vec![1, 2, 4],
        };
        assert!(explain_serially(&start, &[post.clone(), switched], &end));
        let wrong = Seen::Switched {
            target: 4,
            path: vec![1, 2, 3],
        };
        assert!(!explain_serially(&start, &[post, wrong], &end));
        // An edit of a message that is still there cannot have missed it.
        assert!(!explain_serially(&start, &[Seen::EditMissed(3)], &start));
        // An edit's sibling has the original's parent.
        let mut end = start.clone();
        end.add(5, node(Some(3), "user"));
        let edit = Seen::Edited {
            target: 3,
            id: 5,
            parent: Some(3),
        };
        assert!(!explain_serially(&start, &[edit], &end));
        // The end state must be the one the order leaves.
        let mut moved = start.clone();
        moved.current = Some(4);
        assert!(!explain_serially(&start, &[], &moved));
    }

    /// A real history (PostgreSQL, 60 calls) with a switch whose answer was already the
    /// starting state: the search once placed it there and missed the order where it
    /// moved the leaf back.
    #[test]
    fn a_history_seen_on_postgres() {
        let mut start = State::default();
        for (id, parent, actor) in [
            (1, None, "user"),
            (2, Some(1), "assistant"),
            (3, Some(2), "user"),
            (4, Some(3), "assistant"),
            (5, Some(4), "user"),
            (6, Some(5), "assistant"),
            (7, Some(6), "user"),
            (8, Some(7), "assistant"),
            (9, Some(8), "user"),
            (10, Some(9), "assistant"),
            (11, Some(2), "user"),
            (12, Some(5), "assistant"),
        ] {
            start.add(id, node(parent, actor));
        }
        start.current = Some(10);
        let mut end = State::default();
        end.add(26, node(None, "assistant"));
        end.add(29, node(Some(26), "assistant"));
        let observed = vec![
            Seen::Edited {
                target: 6,
                id: 13,
                parent: Some(5),
            },
            Seen::Posted {
                id: 14,
                parent: Some(13),
                asked: None,
                actor: "assistant",
            },
            Seen::Switched {
                target: 6,
                path: vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            },
            Seen::Deleted(vec![9, 10]),
            Seen::Posted {
                id: 15,
                parent: Some(8),
                asked: None,
                actor: "assistant",
            },
            Seen::Deleted(vec![8, 15]),
            Seen::SwitchRefused(12),
            Seen::Deleted(vec![5, 6, 7]),
            Seen::Deleted(vec![3, 4]),
            Seen::Posted {
                id: 16,
                parent: Some(1),
                asked: Some(1),
                actor: "user",
            },
            Seen::EditMissed(9),
            Seen::Deleted(vec![1, 16]),
            Seen::ParentRefused(5),
            Seen::Empty,
            Seen::Posted {
                id: 17,
                parent: None,
                asked: None,
                actor: "user",
            },
            Seen::Posted {
                id: 18,
                parent: Some(17),
                asked: None,
                actor: "user",
            },
            Seen::ParentRefused(7),
            Seen::EditMissed(7),
            Seen::Posted {
                id: 19,
                parent: Some(18),
                asked: None,
                actor: "assistant",
            },
            Seen::SwitchRefused(11),
            Seen::Deleted(vec![18, 19]),
            Seen::Deleted(vec![17]),
            Seen::Empty,
            Seen::Posted {
                id: 20,
                parent: None,
                asked: None,
                actor: "user",
            },
            Seen::EditMissed(10),
            Seen::Posted {
                id: 21,
                parent: Some(20),
                asked: None,
                actor: "user",
            },
            Seen::Posted {
                id: 22,
                parent: Some(21),
                asked: None,
                actor: "user",
            },
            Seen::EditMissed(5),
            Seen::SwitchRefused(4),
            Seen::EditMissed(4),
            Seen::Deleted(vec![20, 21, 22]),
            Seen::SwitchRefused(2),
            Seen::Posted {
                id: 23,
                parent: None,
                asked: None,
                actor: "user",
            },
            Seen::EditMissed(8),
            Seen::Deleted(vec![23]),
            Seen::Posted {
                id: 24,
                parent: None,
                asked: None,
                actor: "user",
            },
            Seen::ParentRefused(3),
            Seen::EditMissed(2),
            Seen::Deleted(vec![24]),
            Seen::EditMissed(3),
            Seen::SwitchRefused(1),
            Seen::SwitchRefused(7),
            Seen::SwitchRefused(9),
            Seen::Empty,
            Seen::SwitchRefused(5),
            Seen::Empty,
            Seen::Empty,
            Seen::Empty,
            Seen::Empty,
            Seen::Empty,
            Seen::ParentRefused(9),
            Seen::Posted {
                id: 25,
                parent: None,
                asked: None,
                actor: "user",
            },
            Seen::Deleted(vec![25]),
            Seen::EditMissed(2),
            Seen::Posted {
                id: 26,
                parent: None,
                asked: None,
                actor: "assistant",
            },
            Seen::Posted {
                id: 27,
                parent: Some(26),
                asked: None,
                actor: "user",
            },
            Seen::Posted {
                id: 28,
                parent: Some(27),
                asked: None,
                actor: "user",
            },
            Seen::Deleted(vec![27, 28]),
            Seen::SwitchRefused(10),
            Seen::Posted {
                id: 29,
                parent: Some(26),
                asked: None,
                actor: "assistant",
            },
        ];
        // The order found by hand replays.
        let by_hand: Vec<usize> = [0usize, 1, 2, 3, 4, 5, 7, 6, 8, 9, 11, 10, 12, 13]
            .into_iter()
            .chain(14..observed.len())
            .collect();
        let mut state = start.clone();
        for i in by_hand {
            match replay(&state, &observed[i]) {
                Some(next) => state = next,
                None => panic!("step {i} {:?} fails on {state:?}", observed[i]),
            }
        }
        assert_eq!(state, end, "the order by hand");
        assert!(explain_serially(&start, &observed, &end));
    }
}
