//! Positions in submitted text as every parser here reports them: the 1-based line and the
//! 1-based column, counted in characters, of a byte offset (hcl-edit's spans are byte ranges).
//! Compiled for fuzzing too: the parsers that use it are fuzz targets.

use std::ops::Range;

/// Line starts of a text, found once: a position is a binary search away, so reporting many
/// problems costs time proportional to the text, not to problems times text.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { starts }
    }

    /// Line and column of `offset` in `text` (the text the index was made of); an offset past
    /// the end is the end.
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let column = text
            .get(start..offset)
            .map_or(0, |segment| segment.chars().count())
            + 1;
        (line, column)
    }
}

/// Line and column of one offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    LineIndex::new(text).line_col(text, offset)
}

/// The line where a span starts; line 1 for an element without one.
pub fn line_of(text: &str, span: Option<Range<usize>>) -> usize {
    span.map_or(1, |r| {
        let offset = r.start.min(text.len());
        text[..offset].bytes().filter(|&b| b == b'\n').count() + 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_from_one_and_columns_in_characters() {
        let text = "ab\nçé x\n\nlast";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 2), (1, 3), "the newline ends line 1");
        assert_eq!(line_col(text, 3), (2, 1));
        // "çé " is 5 bytes and 3 characters.
        assert_eq!(line_col(text, 8), (2, 4));
        assert_eq!(line_col(text, 10), (3, 1));
        assert_eq!(line_col(text, text.len()), (4, 5));
        assert_eq!(line_col(text, 1000), (4, 5), "past the end is the end");
        let index = LineIndex::new(text);
        for offset in 0..=text.len() {
            if text.is_char_boundary(offset) {
                assert_eq!(index.line_col(text, offset), line_col(text, offset));
                assert_eq!(
                    line_of(text, Some(offset..offset)),
                    line_col(text, offset).0
                );
            }
        }
        assert_eq!(line_of(text, None), 1);
        assert_eq!(line_of("", Some(0..0)), 1);
    }
}
