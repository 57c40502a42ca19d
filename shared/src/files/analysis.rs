//! What the file processor computes from an upload, fed chunk by chunk.
//!
//! No file is ever held whole in memory: size, SHA-256, the content type from the bytes
//! themselves (magic numbers, never the client's word), and for UTF-8 text the lines, words,
//! characters and reading time, with the chapters, paragraphs and sentences that
//! [`manuscript`](crate::files::manuscript) finds. `files::process` feeds it from S3.

use aws_lc_rs::digest::{Context, SHA256};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::files::manuscript::{BlockKind, Lines, Manuscript};

/// Reading speed for the estimate, in words per minute.
pub const WORDS_PER_MINUTE: f64 = 238.0;

/// How many leading bytes the content-type sniffer looks at.
const SNIFF_BYTES: usize = 512;

/// Consumes a file chunk by chunk; [`Analyzer::finish`] gives the figures.
pub struct Analyzer {
    size: u64,
    sha256: Context,
    head: Vec<u8>,
    text: TextCounter,
}

impl Default for Analyzer {
    fn default() -> Self {
        Self {
            size: 0,
            sha256: Context::new(&SHA256),
            head: Vec::with_capacity(SNIFF_BYTES),
            text: TextCounter::default(),
        }
    }
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Analyzer {
    /// Feeds the next chunk, in order.
    pub fn update(&mut self, chunk: &[u8]) {
        self.size += chunk.len() as u64;
        self.sha256.update(chunk);
        if self.head.len() < SNIFF_BYTES {
            let room = SNIFF_BYTES - self.head.len();
            self.head.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        self.text.update(chunk);
    }

    /// The figures for everything fed so far.
    pub fn finish(self) -> Analysis {
        let content_type = sniff(&self.head);
        let text = self.text.finish();
        let is_text = content_type.starts_with("text/");
        Analysis {
            size_bytes: self.size,
            sha256: self
                .sha256
                .finish()
                .as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            content_type: content_type.to_owned(),
            text: is_text.then_some(text),
        }
    }
}

/// The figures for one file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Analysis {
    pub size_bytes: u64,
    /// Lowercase hex.
    pub sha256: String,
    /// Detected from the bytes.
    pub content_type: String,
    /// For text files only.
    pub text: Option<TextStats>,
}

/// Counts for UTF-8 text, and the shape of the manuscript it holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TextStats {
    pub lines: u64,
    /// By Unicode word boundaries; each Chinese character and Japanese kana or kanji is one.
    pub words: u64,
    pub characters: u64,
    /// At [`WORDS_PER_MINUTE`], to a tenth of a minute.
    pub reading_minutes: f64,
    /// False when the bytes stopped being UTF-8; the counts then cover the text before that.
    pub valid_utf8: bool,
    /// Runs of lines between blank lines (a `.docx`: its paragraphs) that hold a word, headings
    /// apart.
    #[serde(default)]
    pub paragraphs: u64,
    /// Sentences within those paragraphs, by Unicode sentence boundaries, that hold a word.
    #[serde(default)]
    pub sentences: u64,
    /// Words in paragraphs per sentence, to a tenth; `None` without sentences.
    #[serde(default)]
    pub average_sentence_words: Option<f64>,
    /// In order; their words add up to `words`.
    #[serde(default)]
    pub chapters: Vec<Chapter>,
}

/// A chapter: from one heading (Markdown `#` or `##`, "Chapter One", Word's Title, Heading 1 or
/// Heading 2) to the next.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Chapter {
    /// The heading's text; `None` for the text before the first heading.
    pub title: Option<String>,
    /// Including the heading's own words.
    pub words: u64,
    /// At [`WORDS_PER_MINUTE`], to a tenth of a minute.
    pub reading_minutes: f64,
}

/// Minutes to read `words` at [`WORDS_PER_MINUTE`], to a tenth.
pub fn reading_minutes(words: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)] // word counts stay far below 2^52
    let minutes = words as f64 / WORDS_PER_MINUTE;
    (minutes * 10.0).round() / 10.0
}

/// Streaming UTF-8 text statistics. A character split across two chunks is carried over.
#[derive(Debug, Default)]
pub struct TextCounter {
    carry: Vec<u8>,
    invalid: bool,
    characters: u64,
    newlines: u64,
    last: Option<char>,
    reader: Reader,
}

/// How the text's structure is found: from its lines, or from paragraphs marked by the caller.
#[derive(Debug)]
enum Reader {
    Lines(Lines),
    Paragraphs(Manuscript),
}

impl Default for Reader {
    fn default() -> Self {
        Self::Lines(Lines::default())
    }
}

impl TextCounter {
    /// A counter for text whose paragraphs the caller marks with [`TextCounter::end_paragraph`]
    /// (a `.docx` body), instead of finding them from blank lines and headings.
    pub(crate) fn for_paragraphs() -> Self {
        Self {
            reader: Reader::Paragraphs(Manuscript::default()),
            ..Self::default()
        }
    }

    /// With smaller line and paragraph caps, for tests that must reach them.
    #[cfg(test)]
    fn with_caps(line: usize, block: usize) -> Self {
        Self {
            reader: Reader::Lines(Lines::with_caps(line, block)),
            ..Self::default()
        }
    }

    /// Ends the paragraph whose text was fed last, as `kind`; ignored for line-read text.
    pub(crate) fn end_paragraph(&mut self, kind: BlockKind) {
        if let Reader::Paragraphs(manuscript) = &mut self.reader {
            manuscript.end(kind);
        }
    }

    /// Counts the next chunk of text, in order.
    ///
    /// The chunk is read where it lies: only a character split across two chunks (at most four
    /// bytes) is joined.
    pub fn update(&mut self, mut chunk: &[u8]) {
        if self.invalid {
            return;
        }
        if !self.carry.is_empty() {
            // The carry is the start of one character: finish it with at most three bytes.
            let carried = self.carry.len();
            let take = chunk.len().min(4 - carried);
            let mut joined = std::mem::take(&mut self.carry);
            joined.extend_from_slice(&chunk[..take]);
            let valid = match std::str::from_utf8(&joined) {
                Ok(_) => joined.len(),
                Err(e) if e.valid_up_to() > 0 => e.valid_up_to(),
                Err(e) if e.error_len().is_none() => {
                    // Still incomplete: the whole chunk was too short to finish it.
                    self.carry = joined;
                    return;
                }
                Err(_) => {
                    self.invalid = true;
                    return;
                }
            };
            self.count(std::str::from_utf8(&joined[..valid]).unwrap_or_default());
            chunk = &chunk[valid - carried..];
        }
        match std::str::from_utf8(chunk) {
            Ok(text) => self.count(text),
            Err(e) => {
                let valid = e.valid_up_to();
                self.count(std::str::from_utf8(&chunk[..valid]).unwrap_or_default());
                if e.error_len().is_some() {
                    self.invalid = true;
                } else {
                    // `error_len() == None`: the chunk ends inside a character; keep its start.
                    self.carry = chunk[valid..].to_vec();
                }
            }
        }
    }

    fn count(&mut self, text: &str) {
        let Some(last) = text.chars().next_back() else {
            return;
        };
        let ascii = text.is_ascii();
        // Blocks short enough for byte-wide counters, which the compiler turns into vector adds.
        for block in text.as_bytes().chunks(255) {
            let (mut characters, mut newlines) = (0_u8, 0_u8);
            if ascii {
                for &b in block {
                    newlines += u8::from(b == b'\n');
                }
                characters = u8::try_from(block.len()).unwrap_or(u8::MAX);
            } else {
                for &b in block {
                    // Every byte but a UTF-8 continuation byte (0b10xx_xxxx) starts a character.
                    characters += u8::from(b.cast_signed() >= -0x40);
                    newlines += u8::from(b == b'\n');
                }
            }
            self.characters += u64::from(characters);
            self.newlines += u64::from(newlines);
        }
        self.last = Some(last);
        match &mut self.reader {
            Reader::Lines(lines) => lines.feed(text),
            Reader::Paragraphs(manuscript) => manuscript.push_text(text),
        }
    }

    /// The counts for everything fed so far.
    pub fn finish(self) -> TextStats {
        // A trailing fragment of a character is not UTF-8 either.
        let valid_utf8 = !self.invalid && self.carry.is_empty();
        // The last line counts even without a final newline.
        let lines = self.newlines + u64::from(self.last.is_some_and(|c| c != '\n'));
        let shape = match self.reader {
            Reader::Lines(lines) => lines.finish(),
            Reader::Paragraphs(manuscript) => manuscript.finish(),
        };
        TextStats {
            lines,
            words: shape.words,
            characters: self.characters,
            reading_minutes: reading_minutes(shape.words),
            valid_utf8,
            paragraphs: shape.paragraphs,
            sentences: shape.sentences,
            average_sentence_words: shape.average_sentence_words,
            chapters: shape.chapters,
        }
    }
}

/// The content type of a file from its first bytes.
pub fn sniff(head: &[u8]) -> &'static str {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"%PDF-", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"PK\x03\x04", "application/zip"),
        (b"\x1f\x8b", "application/gzip"),
        (b"ID3", "audio/mpeg"),
        (b"OggS", "audio/ogg"),
        (b"fLaC", "audio/flac"),
        (b"{\\rtf", "application/rtf"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
            "application/x-ole-storage",
        ),
    ];
    if let Some((_, kind)) = SIGNATURES.iter().find(|(magic, _)| head.starts_with(magic)) {
        return kind;
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE" {
        return "audio/wav";
    }
    if head.is_empty() {
        return "application/x-empty";
    }
    // Text: UTF-8 (a character may be cut at the sniff boundary) without NUL or most controls.
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return "application/octet-stream",
    };
    let binary = valid
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'));
    if binary {
        "application/octet-stream"
    } else {
        "text/plain"
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::files::manuscript::count_words;

    impl TextStats {
        fn of(text: &str) -> Self {
            let mut counter = TextCounter::default();
            counter.update(text.as_bytes());
            counter.finish()
        }
    }

    fn analyse(bytes: &[u8]) -> Analysis {
        let mut analyzer = Analyzer::default();
        analyzer.update(bytes);
        analyzer.finish()
    }

    #[test]
    fn a_text_file_is_counted_by_hand() {
        // 3 lines, 10 words, 44 characters, 45 bytes (é is one character, two bytes).
        let text = "It was a bright cold day\nin April.\nClocks é\n";
        let analysis = analyse(text.as_bytes());
        assert_eq!(analysis.content_type, "text/plain");
        assert_eq!(analysis.size_bytes, 45);
        let stats = analysis.text.expect("text");
        assert_eq!((stats.lines, stats.words, stats.characters), (3, 10, 44));
        assert!(stats.valid_utf8);
    }

    #[test]
    fn the_last_line_counts_without_a_final_newline() {
        let stats = TextStats::of("one\ntwo");
        assert_eq!(stats.lines, 2);
        assert_eq!(TextStats::of("").lines, 0);
        assert_eq!(TextStats::of("\n").lines, 1);
    }

    #[test]
    fn reading_time_is_words_at_238_per_minute() {
        let stats = TextStats::of(&"word ".repeat(476));
        assert_eq!(stats.words, 476);
        assert!((stats.reading_minutes - 2.0).abs() < f64::EPSILON);
    }

    #[test]
    fn sha256_matches_a_known_digest() {
        assert_eq!(
            analyse(b"abc").sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn content_types_come_from_magic_numbers() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniff(b"PK\x03\x04rest"), "application/zip");
        assert_eq!(sniff(b"RIFF\x00\x00\x00\x00WAVEfmt "), "audio/wav");
        assert_eq!(sniff(b"# Chapter One\n\nIt was"), "text/plain");
        assert_eq!(sniff(b"\x00\x01\x02binary"), "application/octet-stream");
        assert!(
            analyse(b"\x89PNG\r\n\x1a\nxx").text.is_none(),
            "no text stats for images"
        );
    }

    #[test]
    fn invalid_utf8_is_reported_not_fatal() {
        let mut analyzer = Analyzer::default();
        analyzer.update(b"good words ");
        analyzer.update(b"\xff\xfe then more");
        let analysis = analyzer.finish();
        assert_eq!(analysis.size_bytes, 11 + 12);
        // The head is not UTF-8, so this is not reported as text at all.
        assert_eq!(analysis.content_type, "application/octet-stream");
        let mut counter = TextCounter::default();
        counter.update(b"good words \xff more");
        let stats = counter.finish();
        assert!(!stats.valid_utf8);
        assert_eq!(stats.words, 2, "counted up to the first invalid byte");
    }

    /// A fixture's figures, as `tests/fixtures/README.md` counts them by hand.
    struct Expected {
        lines: u64,
        words: u64,
        characters: u64,
        paragraphs: u64,
        sentences: u64,
        average: Option<f64>,
        chapters: &'static [(Option<&'static str>, u64)],
    }

    #[track_caller]
    fn assert_figures(bytes: &[u8], expected: &Expected) {
        let stats = analyse(bytes).text.expect("text");
        assert_eq!(
            (stats.lines, stats.words, stats.characters),
            (expected.lines, expected.words, expected.characters)
        );
        assert_eq!(
            (
                stats.paragraphs,
                stats.sentences,
                stats.average_sentence_words
            ),
            (expected.paragraphs, expected.sentences, expected.average)
        );
        let chapters: Vec<_> = stats
            .chapters
            .iter()
            .map(|c| (c.title.as_deref(), c.words))
            .collect();
        assert_eq!(chapters, expected.chapters);
        assert!((stats.reading_minutes - reading_minutes(expected.words)).abs() < f64::EPSILON);
        // The same figures however the file is cut.
        let cuts = (1..bytes.len()).step_by(7).collect();
        assert_eq!(analyse_in_chunks(bytes, cuts).text, Some(stats));
    }

    #[test]
    fn the_english_markdown_fixture_has_its_hand_counted_figures() {
        assert_figures(
            include_bytes!("../../../tests/fixtures/novel.md"),
            &Expected {
                lines: 21,
                words: 69,
                characters: 409,
                paragraphs: 6,
                sentences: 11,
                average: Some(5.2),
                chapters: &[
                    (None, 10),
                    (Some("The Beginning"), 30),
                    (Some("A Second Chapter"), 23),
                    (Some("The End Of It"), 6),
                ],
            },
        );
    }

    #[test]
    fn the_persian_fixture_keeps_zwnj_words_whole() {
        assert_figures(
            include_bytes!("../../../tests/fixtures/persian.md"),
            &Expected {
                lines: 9,
                words: 17,
                characters: 105,
                paragraphs: 3,
                sentences: 5,
                average: Some(2.6),
                chapters: &[(Some("فصل اوّل"), 14), (Some("فصل دوم"), 3)],
            },
        );
    }

    #[test]
    fn the_chinese_fixture_counts_each_character_as_a_word() {
        assert_figures(
            include_bytes!("../../../tests/fixtures/chinese.md"),
            &Expected {
                lines: 5,
                words: 18,
                characters: 32,
                paragraphs: 2,
                sentences: 4,
                average: Some(3.8),
                chapters: &[(Some("第一章"), 18)],
            },
        );
    }

    #[test]
    fn the_japanese_fixture_counts_each_kana_and_kanji_as_a_word() {
        assert_figures(
            include_bytes!("../../../tests/fixtures/japanese.txt"),
            &Expected {
                lines: 4,
                words: 32,
                characters: 40,
                paragraphs: 2,
                sentences: 3,
                average: Some(10.7),
                chapters: &[(None, 32)],
            },
        );
    }

    #[test]
    fn the_plain_text_fixture_finds_chapter_lines_but_not_sentences_that_start_alike() {
        assert_figures(
            include_bytes!("../../../tests/fixtures/chapters.txt"),
            &Expected {
                lines: 16,
                words: 47,
                characters: 239,
                paragraphs: 4,
                sentences: 6,
                average: Some(6.2),
                chapters: &[
                    (Some("Prologue"), 7),
                    (Some("CHAPTER ONE"), 15),
                    (Some("Chapter 2: The Storm"), 16),
                    (Some("Part IV. Home"), 9),
                ],
            },
        );
    }

    #[test]
    fn the_first_fixtures_keep_their_figures_but_markdown_symbols_are_no_words() {
        assert_figures(
            include_bytes!("../../../tests/fixtures/chapter.txt"),
            &Expected {
                lines: 5,
                words: 28,
                characters: 165,
                paragraphs: 2,
                sentences: 2,
                average: Some(14.0),
                chapters: &[(None, 28)],
            },
        );
        // `#`, the list dashes and ✍ were words when spaces alone divided them.
        assert_figures(
            include_bytes!("../../../tests/fixtures/notes.md"),
            &Expected {
                lines: 4,
                words: 8,
                characters: 64,
                paragraphs: 1,
                sentences: 1,
                average: Some(6.0),
                chapters: &[(Some("Chapter Two"), 8)],
            },
        );
    }

    #[test]
    fn long_lines_and_paragraphs_are_counted_within_the_caps() {
        let paragraph = "Call me Ishmael. Some years ago I went to sea. ".repeat(3_000);
        let text = format!("# One\n{paragraph}\n\n{}", paragraph.replace(". ", ".\n"));
        let mut whole = TextCounter::default();
        whole.update(text.as_bytes());
        let whole = whole.finish();
        assert_eq!(
            (whole.words, whole.sentences, whole.paragraphs),
            (1 + 2 * 30_000, 12_000, 2)
        );
        let mut small = TextCounter::with_caps(100, 300);
        for piece in text.as_bytes().chunks(77) {
            small.update(piece);
        }
        assert_eq!(small.finish(), whole);
    }

    #[test]
    fn results_stored_before_chapters_were_counted_still_read() {
        let stored = r#"{"lines": 5, "words": 28, "characters": 165, "reading_minutes": 0.1, "valid_utf8": true}"#;
        let stats: TextStats = serde_json::from_str(stored).expect("an old result");
        assert_eq!((stats.words, stats.paragraphs, stats.sentences), (28, 0, 0));
        assert_eq!(stats.average_sentence_words, None);
        assert!(stats.chapters.is_empty());
    }

    /// `bytes` fed in pieces, cut at `cuts` (clamped and sorted).
    fn analyse_in_chunks(bytes: &[u8], cuts: Vec<usize>) -> Analysis {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
        cuts.sort_unstable();
        let mut analyzer = Analyzer::default();
        let mut start = 0;
        for cut in cuts.into_iter().chain(std::iter::once(bytes.len())) {
            analyzer.update(&bytes[start..cut]);
            start = cut;
        }
        analyzer.finish()
    }

    proptest! {
        #[test]
        fn chunking_never_changes_the_figures(text in "\\PC{0,400}", cuts in proptest::collection::vec(0usize..400, 0..6)) {
            let bytes = text.as_bytes();
            prop_assert_eq!(analyse_in_chunks(bytes, cuts), analyse(bytes));
        }

        #[test]
        fn text_counts_match_the_standard_library(text in "\\PC{0,400}") {
            let stats = TextStats::of(&text);
            prop_assert_eq!(stats.characters, text.chars().count() as u64);
            // Lines and paragraphs never cut a word: the words are the text's, as one string.
            prop_assert_eq!(stats.words, count_words(&text));
            prop_assert_eq!(stats.lines, text.lines().count() as u64);
            prop_assert!(stats.valid_utf8);
        }

        #[test]
        fn ascii_and_mixed_text_counts_match_the_standard_library(
            text in "[ -~\t\n\u{b}\u{c}\r]{0,300}[ a-zé€\u{85}\u{a0}\u{2003}\n]{0,20}[ -~\n]{0,100}",
            cut in 0usize..500,
        ) {
            let stats = TextStats::of(&text);
            prop_assert_eq!(stats.characters, text.chars().count() as u64);
            prop_assert_eq!(stats.words, count_words(&text));
            prop_assert_eq!(stats.lines, text.lines().count() as u64);
            let bytes = text.as_bytes();
            prop_assert_eq!(analyse_in_chunks(bytes, vec![cut]), analyse(bytes));
        }

        #[test]
        fn chunking_never_changes_the_figures_of_any_bytes(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..8),
        ) {
            prop_assert_eq!(analyse_in_chunks(&bytes, cuts), analyse(&bytes));
        }

        #[test]
        fn any_bytes_are_analysed_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let analysis = analyse(&bytes);
            prop_assert_eq!(analysis.size_bytes, bytes.len() as u64);
            prop_assert_eq!(analysis.sha256.len(), 64);
        }
    }
}
