//! The message tree both importers read: nodes that point at their parent, only some of
//! which become messages.
//!
//! One piece serves ChatGPT's `mapping` and Open WebUI's `history` so both give the same
//! guarantees: parents before children, skipped nodes bridged (a message hangs from its
//! nearest kept ancestor), cycles broken, and no recursion anywhere, since an export can
//! hold a chain deeper than any stack.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use serde_json::{Map, Value};

use super::ConversationMessage;
use crate::domain::{Actor, Timestamp};

/// More nodes than this and a conversation is refused rather than read.
pub(super) const MAX_NODES: usize = 100_000;

/// One node of a source's tree; its index in the list is its place in the source.
pub(super) struct Node {
    /// The index of its parent; `None` for a root.
    pub parent: Option<usize>,
    /// Its own time; a node without one sorts at its parent's.
    pub time: Option<Timestamp>,
    /// Breaks ties between equal times before the index does: its place in its parent's
    /// list of children, where the source has one.
    pub rank: usize,
    /// What it becomes; `None` for a node that is skipped.
    pub message: Option<ConversationMessage>,
}

/// The kept messages, parents first, and the active leaf.
pub(super) struct Tree {
    pub messages: Vec<ConversationMessage>,
    pub current: Option<usize>,
}

/// A message with nothing filled in but what the sources have.
pub(super) fn message(
    actor: Actor,
    text: String,
    created_at: Option<Timestamp>,
    model: Option<String>,
) -> ConversationMessage {
    ConversationMessage {
        parent: None,
        actor,
        text,
        created_at,
        updated_at: None,
        model,
        files: None,
        reply: None,
    }
}

/// A string field, trimmed; `None` when missing, not a string or blank.
pub(super) fn text_field(value: Option<&Value>) -> Option<String> {
    let text = value?.as_str()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Reads an object of nodes keyed by id, `read` giving each node's time and message.
///
/// A parent that names no node makes a root. The nodes keep the map's key order: this
/// crate's serde_json does not keep the file's, so a node's place in its parent's
/// `children_key` list is what orders siblings with equal times.
pub(super) fn keyed_nodes(
    map: &Map<String, Value>,
    parent_key: &str,
    children_key: &str,
    mut read: impl FnMut(&Value) -> (Option<Timestamp>, Option<ConversationMessage>),
) -> Vec<Node> {
    let index: HashMap<&str, usize> = map
        .keys()
        .enumerate()
        .map(|(at, id)| (id.as_str(), at))
        .collect();
    let mut nodes: Vec<Node> = map
        .values()
        .map(|value| {
            let (time, message) = read(value);
            let parent = value
                .get(parent_key)
                .and_then(Value::as_str)
                .and_then(|id| index.get(id).copied());
            Node {
                parent,
                time,
                rank: usize::MAX,
                message,
            }
        })
        .collect();
    for (at, value) in map.values().enumerate() {
        let Some(children) = value.get(children_key).and_then(Value::as_array) else {
            continue;
        };
        for (rank, child) in children.iter().enumerate() {
            let Some(&child) = child.as_str().and_then(|id| index.get(id)) else {
                continue;
            };
            // Only the parent the child names may rank it, and only once.
            if let Some(node) = nodes.get_mut(child) {
                if node.parent == Some(at) && node.rank == usize::MAX {
                    node.rank = rank;
                }
            }
        }
    }
    nodes
}

/// Orders the nodes and keeps their messages.
///
/// The order is a topological one that always takes the earliest node whose parent is
/// out, by (time, rank, index), so branches interleave by time. `current` is a node
/// index: its nearest kept ancestor-or-self becomes the active leaf; when it is `None`,
/// unknown or has no kept ancestor, the kept leaf with the latest time (the last of
/// equals) does.
pub(super) fn arrange(mut nodes: Vec<Node>, current: Option<usize>) -> Tree {
    let count = nodes.len();
    let mut parent: Vec<Option<usize>> = nodes
        .iter()
        .enumerate()
        .map(|(at, node)| node.parent.filter(|&p| p < count && p != at))
        .collect();
    break_cycles(&mut parent, &nodes);

    let mut children = vec![Vec::new(); count];
    let mut ready = BinaryHeap::new();
    for (at, up) in parent.iter().enumerate() {
        match up {
            Some(up) => children[*up].push(at),
            None => ready.push(Reverse((nodes[at].time, nodes[at].rank, at))),
        }
    }
    // For each node taken: the place among `messages` of its nearest kept
    // ancestor-or-self.
    let mut kept_at: Vec<Option<usize>> = vec![None; count];
    let mut messages = Vec::new();
    let mut times = Vec::new();
    while let Some(Reverse((time, _, at))) = ready.pop() {
        let above = parent[at].and_then(|up| kept_at[up]);
        kept_at[at] = match nodes[at].message.take() {
            Some(mut message) => {
                message.parent = above;
                messages.push(message);
                times.push(time);
                Some(messages.len() - 1)
            }
            None => above,
        };
        for &child in &children[at] {
            let node = &nodes[child];
            ready.push(Reverse((node.time.or(time), node.rank, child)));
        }
    }
    let current = current
        .and_then(|at| kept_at.get(at).copied().flatten())
        .or_else(|| latest_leaf(&messages, &times));
    Tree { messages, current }
}

/// Makes every chain end at a root: in each cycle, the earliest node (by time, rank,
/// index) loses its parent. Each node is walked once.
fn break_cycles(parent: &mut [Option<usize>], nodes: &[Node]) {
    const NEW: u8 = 0;
    const WALKING: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; parent.len()];
    let mut path = Vec::new();
    for start in 0..parent.len() {
        let mut at = Some(start);
        while let Some(node) = at {
            match state[node] {
                DONE => break,
                WALKING => {
                    let from = path.iter().rposition(|&p| p == node).unwrap_or(0);
                    let earliest = path[from..]
                        .iter()
                        .copied()
                        .min_by_key(|&n: &usize| (nodes[n].time, nodes[n].rank, n));
                    if let Some(earliest) = earliest {
                        parent[earliest] = None;
                    }
                    break;
                }
                _ => {
                    state[node] = WALKING;
                    path.push(node);
                    at = parent[node];
                }
            }
        }
        for node in path.drain(..) {
            state[node] = DONE;
        }
    }
}

/// The kept leaf with the latest time; of equals, the last in order.
fn latest_leaf(messages: &[ConversationMessage], times: &[Option<Timestamp>]) -> Option<usize> {
    let mut has_child = vec![false; messages.len()];
    for parent in messages.iter().filter_map(|m| m.parent) {
        has_child[parent] = true;
    }
    let mut latest: Option<usize> = None;
    for (at, time) in times.iter().enumerate() {
        if !has_child[at] && latest.is_none_or(|best| times[best] <= *time) {
            latest = Some(at);
        }
    }
    latest
}

/// The model of the nearest assistant message at or above `current` that names one:
/// what a conversation without a model of its own was last talking to.
pub(super) fn nearest_model(
    messages: &[ConversationMessage],
    current: Option<usize>,
) -> Option<String> {
    let mut at = current;
    while let Some(index) = at {
        let message = messages.get(index)?;
        if message.actor == Actor::Assistant {
            if let Some(model) = &message.model {
                return Some(model.clone());
            }
        }
        // Parents always come first; the check keeps a bad tree from looping.
        at = message.parent.filter(|&up| up < index);
    }
    None
}

/// What the importers' tests share: a fixture's item, times, expected messages.
#[cfg(test)]
pub(super) mod testing {
    use serde_json::Value;

    use super::super::ConversationMessage;
    use crate::domain::{Actor, Timestamp};

    /// Item `position` of a fixture that is a JSON array.
    pub fn fixture_item(fixture: &str, position: usize) -> Value {
        let all: Vec<Value> = serde_json::from_str(fixture).expect("the fixture is JSON");
        all.get(position).cloned().expect("the fixture has it")
    }

    pub fn seconds(s: i64) -> Option<Timestamp> {
        Some(Timestamp(s * 1_000_000))
    }

    /// A message as an importer should produce it.
    pub fn msg(
        parent: Option<usize>,
        actor: Actor,
        text: &str,
        created_at: Option<Timestamp>,
        model: Option<&str>,
    ) -> ConversationMessage {
        let mut message = super::message(actor, text.into(), created_at, model.map(str::to_owned));
        message.parent = parent;
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(parent: Option<usize>, time: Option<i64>, text: Option<&str>) -> Node {
        Node {
            parent,
            time: time.map(Timestamp),
            rank: 0,
            message: text.map(|t| message(Actor::User, t.to_owned(), None, None)),
        }
    }

    fn shape(tree: &Tree) -> Vec<(&str, Option<usize>)> {
        tree.messages
            .iter()
            .map(|m| (m.text.as_str(), m.parent))
            .collect()
    }

    #[test]
    fn bridges_skipped_nodes_and_interleaves_branches_by_time() {
        let nodes = vec![
            node(None, None, None), // 0: skipped root
            node(Some(0), Some(10), Some("a")),
            node(Some(1), Some(40), Some("b")), // a's later child
            node(Some(1), Some(20), None),      // a's earlier child, skipped
            node(Some(3), Some(30), Some("c")),
        ];
        let tree = arrange(nodes, Some(3));
        assert_eq!(
            shape(&tree),
            vec![("a", None), ("c", Some(0)), ("b", Some(0))]
        );
        // Node 3 is skipped: its nearest kept ancestor is "a".
        assert_eq!(tree.current, Some(0));
    }

    #[test]
    fn breaks_a_cycle_at_its_earliest_node() {
        let nodes = vec![
            node(Some(2), Some(30), Some("x")),
            node(Some(0), Some(10), Some("y")),
            node(Some(1), Some(20), Some("z")),
        ];
        let tree = arrange(nodes, None);
        assert_eq!(
            shape(&tree),
            vec![("y", None), ("z", Some(0)), ("x", Some(1))]
        );
        assert_eq!(tree.current, Some(2));
    }

    #[test]
    fn latest_leaf_prefers_the_last_of_equal_times() {
        let nodes = vec![
            node(None, Some(10), Some("root")),
            node(Some(0), Some(20), Some("left")),
            node(Some(0), Some(20), Some("right")),
            node(Some(9), Some(5), Some("orphan")), // out-of-range parent: a root
        ];
        let tree = arrange(nodes, Some(99));
        assert_eq!(
            shape(&tree),
            vec![
                ("orphan", None),
                ("root", None),
                ("left", Some(1)),
                ("right", Some(1))
            ]
        );
        assert_eq!(tree.current, Some(3));
    }

    #[test]
    fn nearest_model_skips_assistants_without_one() {
        let mut first = message(Actor::Assistant, "a".into(), None, Some("m1".into()));
        first.parent = None;
        let mut second = message(Actor::Assistant, "b".into(), None, None);
        second.parent = Some(0);
        let mut third = message(Actor::User, "c".into(), None, None);
        third.parent = Some(1);
        let messages = [first, second, third];
        assert_eq!(nearest_model(&messages, Some(2)), Some("m1".to_owned()));
        assert_eq!(nearest_model(&messages, None), None);
    }
}
