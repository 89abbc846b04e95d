//! A generated reply's life (SPEC §8): its status, and where its streamed deltas end.

/// Where a message stands. Messages that were posted are `Complete` from the start; a
/// generated reply is `Generating` until it ends one of the other ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyStatus {
    Generating,
    Complete,
    /// Stopped on request; the text so far is kept.
    Stopped,
    /// The provider failed (refused, timed out, answered an error, cut the stream).
    Failed,
    /// The node producing it died; the text persisted so far is kept.
    Interrupted,
}

impl ReplyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyStatus::Generating => "generating",
            ReplyStatus::Complete => "complete",
            ReplyStatus::Stopped => "stopped",
            ReplyStatus::Failed => "failed",
            ReplyStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(text: &str) -> Option<ReplyStatus> {
        Some(match text {
            "generating" => ReplyStatus::Generating,
            "complete" => ReplyStatus::Complete,
            "stopped" => ReplyStatus::Stopped,
            "failed" => ReplyStatus::Failed,
            "interrupted" => ReplyStatus::Interrupted,
            _ => return None,
        })
    }

    /// Whether the reply has ended with an error (its end event is `message.failed`).
    pub fn is_failure(self) -> bool {
        matches!(self, ReplyStatus::Failed | ReplyStatus::Interrupted)
    }
}

/// Where each delta of a streamed reply ends in its text (UTF-8 byte offsets, one per
/// delta, rising): delta `seq` (from 1) is `text[marks[seq-2]..marks[seq-1]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamMarks(Vec<usize>);

impl StreamMarks {
    /// Marks from the deltas' end offsets (rising).
    pub fn from_ends(ends: Vec<usize>) -> Self {
        StreamMarks(ends)
    }

    pub fn push(&mut self, end: usize) {
        self.0.push(end);
    }

    /// Deltas so far (the last `seq`).
    pub fn len(&self) -> u64 {
        self.0.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The deltas after `after` as `(seq, range in the text)`, oldest first; none when a
    /// mark lies outside `text` or off a character boundary (a corrupt record).
    pub fn deltas_after<'t>(&self, text: &'t str, after: u64) -> Vec<(u64, &'t str)> {
        let mut out = Vec::new();
        let mut start = 0usize;
        for (i, &end) in self.0.iter().enumerate() {
            let seq = i as u64 + 1;
            if seq > after {
                match text.get(start..end) {
                    Some(piece) => out.push((seq, piece)),
                    None => return Vec::new(),
                }
            }
            start = end;
        }
        out
    }

    /// As stored: the offsets, comma-separated.
    pub fn to_stored(&self) -> String {
        let mut out = String::with_capacity(self.0.len() * 5);
        for (i, end) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&end.to_string());
        }
        out
    }

    /// Reads the stored form; `None` for a corrupt one.
    pub fn from_stored(text: &str) -> Option<StreamMarks> {
        if text.is_empty() {
            return Some(StreamMarks::default());
        }
        let marks = text
            .split(',')
            .map(|part| part.parse::<usize>().ok())
            .collect::<Option<Vec<_>>>()?;
        marks
            .windows(2)
            .all(|pair| pair[0] <= pair[1])
            .then_some(StreamMarks(marks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for status in [
            ReplyStatus::Generating,
            ReplyStatus::Complete,
            ReplyStatus::Stopped,
            ReplyStatus::Failed,
            ReplyStatus::Interrupted,
        ] {
            assert_eq!(ReplyStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ReplyStatus::parse("done"), None);
    }

    #[test]
    fn marks_replay_the_deltas_after_a_seq() {
        let text = "Hello, wörld!";
        let mut marks = StreamMarks::default();
        for end in [5, 7, 13, 14] {
            marks.push(end);
        }
        assert_eq!(
            marks.deltas_after(text, 1),
            vec![(2, ", "), (3, "wörld"), (4, "!")]
        );
        assert_eq!(marks.deltas_after(text, 4), vec![]);
        let stored = marks.to_stored();
        assert_eq!(stored, "5,7,13,14");
        assert_eq!(StreamMarks::from_stored(&stored), Some(marks));
        assert_eq!(StreamMarks::from_stored("3,2"), None);
        assert_eq!(StreamMarks::from_stored("x"), None);
        assert_eq!(StreamMarks::from_stored(""), Some(StreamMarks::default()));
    }

    #[test]
    fn a_mark_off_a_character_boundary_replays_nothing() {
        let mut marks = StreamMarks::default();
        marks.push(9); // inside "ö"
        assert_eq!(marks.deltas_after("wörld", 0), vec![]);
    }
}
