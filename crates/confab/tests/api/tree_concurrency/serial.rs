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
/// a call that changes nothing is placed at the first moment it fits (placing it there
/// never rules anything out).
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
            // Calls that leave this state as it is: place them now.
            let mut placed_here = Vec::new();
            for (i, seen) in self.others.iter().enumerate() {
                if !used[i] && replay(state, seen).as_ref() == Some(state) {
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
    search.go(start, 0, &mut used)
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
}
