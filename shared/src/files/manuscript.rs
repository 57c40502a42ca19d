//! The shape of a manuscript as a writer reads it: words, chapters, paragraphs and sentences.
//!
//! Words and sentences follow Unicode's boundaries (UAX #29, through `unicode-segmentation`),
//! except that each Chinese character and each Japanese kana or kanji is a word, as word
//! processors count them. A text file is read line by line for its headings ([`Lines`]); a
//! `.docx` hands over its paragraphs and their styles ([`Manuscript`]). Every buffer is capped, so
//! memory stays flat however long the manuscript; the figures never depend on how it was chunked.

use unicode_segmentation::UnicodeSegmentation;

use crate::files::analysis::{Chapter, reading_minutes};

/// Chapters kept per manuscript; later headings fold into the last one.
pub const MAX_CHAPTERS: usize = 1_000;
/// A chapter's title is its heading's text, cut to this many characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// A paragraph is held up to this many bytes, then counted up to its last sentence boundary.
const BLOCK_BYTES: usize = 64 << 10;
/// A line is held up to this many bytes to be recognised; a longer one is body text.
const LINE_BYTES: usize = 64 << 10;

/// What a block of text is: a heading that starts a chapter, another heading, or body text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// Body text, counted for paragraphs and sentences.
    Paragraph,
    /// A heading that starts no chapter: Markdown's `###` and below, Word's Heading 3 and below.
    Heading,
    /// A heading that starts a chapter.
    Chapter,
}

/// Words, chapters, paragraphs and sentences of a whole manuscript.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Shape {
    /// Headings' words included.
    pub words: u64,
    /// Paragraphs that hold a word.
    pub paragraphs: u64,
    /// Sentences in paragraphs that hold a word.
    pub sentences: u64,
    /// Words in paragraphs per sentence, to a tenth; `None` without sentences.
    pub average_sentence_words: Option<f64>,
    /// In order, at most [`MAX_CHAPTERS`].
    pub chapters: Vec<Chapter>,
}

/// Counts a manuscript block by block (a paragraph or a heading), holding at most one block.
///
/// A chapter's words include its heading's, so the chapters add up to the manuscript's words.
/// Text before the first heading is a chapter without a title, when it has words.
#[derive(Debug)]
pub struct Manuscript {
    cap: usize,
    block: String,
    /// What was counted of the open block before its held text.
    flushed: Flushed,
    words: u64,
    paragraphs: u64,
    sentences: u64,
    paragraph_words: u64,
    chapters: Vec<Chapter>,
    current: Chapter,
    /// Whether `current` was started by a heading (the text before the first one was not).
    headed: bool,
}

#[derive(Debug, Default)]
struct Flushed {
    words: u64,
    sentences: u64,
    /// The first held sentence began before the held text, and that beginning holds a word.
    sentence_has_word: bool,
    /// The block's beginning, kept for its title once the block has been flushed.
    head: Option<String>,
}

impl Default for Manuscript {
    fn default() -> Self {
        Self::with_cap(BLOCK_BYTES)
    }
}

impl Manuscript {
    fn with_cap(cap: usize) -> Self {
        Self {
            cap,
            block: String::new(),
            flushed: Flushed::default(),
            words: 0,
            paragraphs: 0,
            sentences: 0,
            paragraph_words: 0,
            chapters: Vec::new(),
            current: Chapter {
                title: None,
                words: 0,
                reading_minutes: 0.0,
            },
            headed: false,
        }
    }

    /// Adds text to the open block as it is: a line break in it ends a sentence (UAX #29 SB4).
    pub fn push(&mut self, mut text: &str) {
        while self.block.len() + text.len() > self.cap {
            let fits = text.floor_char_boundary(self.cap - self.block.len());
            self.block.push_str(&text[..fits]);
            text = &text[fits..];
            self.flush();
        }
        self.block.push_str(text);
    }

    /// Adds text to the open block, a line break reading as a space: a paragraph's lines are one
    /// stretch of text, whose sentences UAX #29 would otherwise end at every break.
    pub fn push_text(&mut self, text: &str) {
        for (i, piece) in text.split(['\n', '\r']).enumerate() {
            if i > 0 {
                self.push(" ");
            }
            self.push(piece);
        }
    }

    /// Counts the full block's text up to its last sentence boundary (within one long sentence,
    /// up to a place that cuts no word), and keeps the rest.
    fn flush(&mut self) {
        let text = self.block.as_str();
        if self.flushed.head.is_none() {
            self.flushed.head = Some(text.chars().take(MAX_TITLE_CHARS * 2).collect());
        }
        let script = script(text);
        let (sentences, last) = complete_sentences(text, script, self.flushed.sentence_has_word);
        let cut = if last > 0 {
            self.flushed.sentence_has_word = false;
            last
        } else {
            // Before a space or tab no word is ever cut (see `mixed_words`), nor before a Chinese
            // character or hiragana, which nothing joins to what precedes it; other text, a
            // whole block without either, is cut where the cap falls.
            let cut = text
                .char_indices()
                .rev()
                .find(|&(at, c)| at > 0 && (c == ' ' || c == '\t' || stands_alone(c)))
                .map_or(text.len(), |(at, _)| at);
            self.flushed.sentence_has_word |= has_word(&text[..cut]);
            cut
        };
        self.flushed.words += words_in(&text[..cut], script);
        self.flushed.sentences += sentences;
        self.block.drain(..cut);
    }

    /// Closes the open block as `kind`; an empty paragraph counts for nothing.
    pub fn end(&mut self, kind: BlockKind) {
        let flushed = std::mem::take(&mut self.flushed);
        let script = script(&self.block);
        let words = flushed.words + words_in(&self.block, script);
        self.words += words;
        match kind {
            BlockKind::Paragraph => {
                let (sentences, last) =
                    complete_sentences(&self.block, script, flushed.sentence_has_word);
                let open_has_word =
                    has_word(&self.block[last..]) || (last == 0 && flushed.sentence_has_word);
                self.sentences += flushed.sentences + sentences + u64::from(open_has_word);
                self.paragraphs += u64::from(words > 0);
                self.paragraph_words += words;
                self.current.words += words;
            }
            BlockKind::Heading => self.current.words += words,
            BlockKind::Chapter => {
                let title = title(flushed.head.as_deref().unwrap_or(&self.block));
                self.start_chapter(title, words);
            }
        }
        self.block.clear();
    }

    fn start_chapter(&mut self, title: Option<String>, words: u64) {
        if self.chapters.len() + 1 >= MAX_CHAPTERS {
            self.current.words += words;
            return;
        }
        let chapter = Chapter {
            title,
            words,
            reading_minutes: 0.0,
        };
        let previous = std::mem::replace(&mut self.current, chapter);
        if self.headed || previous.words > 0 {
            self.chapters.push(previous);
        }
        self.headed = true;
    }

    /// The figures, once every block has ended; a block still open ends as a paragraph.
    pub fn finish(mut self) -> Shape {
        if !self.block.is_empty() || self.flushed.head.is_some() {
            self.end(BlockKind::Paragraph);
        }
        if self.headed || self.current.words > 0 {
            self.chapters.push(self.current);
        }
        for chapter in &mut self.chapters {
            chapter.reading_minutes = reading_minutes(chapter.words);
        }
        #[allow(clippy::cast_precision_loss)] // counts stay far below 2^52
        let average_sentence_words = (self.sentences > 0)
            .then(|| (self.paragraph_words as f64 / self.sentences as f64 * 10.0).round() / 10.0);
        Shape {
            words: self.words,
            paragraphs: self.paragraphs,
            sentences: self.sentences,
            average_sentence_words,
            chapters: self.chapters,
        }
    }
}

/// A heading's text as a title: whitespace runs made one space, at most [`MAX_TITLE_CHARS`].
fn title(heading: &str) -> Option<String> {
    let mut title = String::new();
    for word in heading.split_whitespace() {
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(word);
        if title.len() >= MAX_TITLE_CHARS * 4 {
            break;
        }
    }
    let title: String = title.chars().take(MAX_TITLE_CHARS).collect();
    let title = title.trim_end();
    (!title.is_empty()).then(|| title.to_owned())
}

/// Reads a text file's lines as Markdown and as plain text, the processor not knowing which.
///
/// Chapters start at a Markdown heading of level 1 or 2 (`#`, `##`, or a line underlined with
/// `===` or `---`) and at a line holding only Chapter or Part with a number (digits, words or
/// roman; Prologue and Epilogue need none), perhaps with a title after `:` or `.`. Paragraphs are runs of
/// non-blank lines between blank lines, headings apart.
#[derive(Debug)]
pub struct Lines {
    cap: usize,
    line: String,
    /// The current line outgrew `cap`: it is body text, streamed into the open paragraph.
    overflowing: bool,
    paragraph: Paragraph,
    manuscript: Manuscript,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Paragraph {
    None,
    /// One line so far: an underline would make it a heading.
    OneLine,
    Longer,
}

impl Default for Lines {
    fn default() -> Self {
        Self::with_caps(LINE_BYTES, BLOCK_BYTES)
    }
}

impl Lines {
    /// With smaller caps, for tests that must reach them.
    pub(crate) fn with_caps(line: usize, block: usize) -> Self {
        assert!(line <= block, "a line that fits must fit in a paragraph");
        Self {
            cap: line,
            line: String::new(),
            overflowing: false,
            paragraph: Paragraph::None,
            manuscript: Manuscript::with_cap(block),
        }
    }

    /// Reads the next piece of text, in order; it may end anywhere, even inside a line.
    pub fn feed(&mut self, mut text: &str) {
        while let Some(end) = text.find('\n') {
            let line = &text[..end];
            if self.line.is_empty() && !self.overflowing {
                self.line(line);
            } else {
                self.partial(line);
                self.end_held_line();
            }
            text = &text[end + 1..];
        }
        self.partial(text);
    }

    fn partial(&mut self, text: &str) {
        if self.overflowing {
            self.manuscript.push_text(text);
        } else if self.line.len() + text.len() > self.cap {
            self.begin_paragraph_line(Paragraph::Longer);
            self.manuscript.push_text(&self.line);
            self.manuscript.push_text(text);
            self.line.clear();
            self.overflowing = true;
        } else {
            self.line.push_str(text);
        }
    }

    fn end_held_line(&mut self) {
        if std::mem::take(&mut self.overflowing) {
            return;
        }
        let line = std::mem::take(&mut self.line);
        self.line(&line);
        self.line = line;
        self.line.clear();
    }

    fn line(&mut self, line: &str) {
        if line.len() > self.cap {
            self.begin_paragraph_line(Paragraph::Longer);
            self.manuscript.push_text(line);
            return;
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        // Most lines start with a letter that no heading starts with: body text, said at once.
        let first = line.bytes().find(|&b| b != b' ' && b != b'\t');
        if first.is_some_and(|b| b.is_ascii_alphanumeric() && !b"cCpPeE".contains(&b)) {
            self.begin_paragraph_line(Paragraph::OneLine);
            self.manuscript.push(line);
            return;
        }
        if line.trim().is_empty() {
            self.end_paragraph();
        } else if is_underline(line) {
            if self.paragraph == Paragraph::OneLine {
                self.paragraph = Paragraph::None;
                self.manuscript.end(BlockKind::Chapter);
            } else {
                // A thematic break (`---`), or a stray underline: the paragraph ends either way.
                self.end_paragraph();
            }
        } else if let Some((level, title)) = atx_heading(line) {
            let kind = if level <= 2 {
                BlockKind::Chapter
            } else {
                BlockKind::Heading
            };
            self.heading(title, kind);
        } else if is_chapter_line(line) {
            self.heading(line, BlockKind::Chapter);
        } else {
            self.begin_paragraph_line(Paragraph::OneLine);
            self.manuscript.push(line);
        }
    }

    /// Joins a line to the open paragraph; `alone` is what a first line makes it.
    fn begin_paragraph_line(&mut self, alone: Paragraph) {
        self.paragraph = match self.paragraph {
            Paragraph::None => alone,
            Paragraph::OneLine | Paragraph::Longer => {
                self.manuscript.push(" ");
                Paragraph::Longer
            }
        };
    }

    fn end_paragraph(&mut self) {
        if self.paragraph != Paragraph::None {
            self.paragraph = Paragraph::None;
            self.manuscript.end(BlockKind::Paragraph);
        }
    }

    fn heading(&mut self, text: &str, kind: BlockKind) {
        self.end_paragraph();
        self.manuscript.push(text);
        self.manuscript.end(kind);
    }

    /// The figures, the last line counting without a final newline.
    pub fn finish(mut self) -> Shape {
        if !self.overflowing && !self.line.is_empty() {
            self.end_held_line();
        }
        self.end_paragraph();
        self.manuscript.finish()
    }
}

/// A setext underline: `=` or `-` only, after at most three spaces.
fn is_underline(line: &str) -> bool {
    let Some(rest) = markdown_indent(line) else {
        return false;
    };
    let rest = rest.trim_end_matches([' ', '\t']);
    !rest.is_empty() && (rest.bytes().all(|b| b == b'=') || rest.bytes().all(|b| b == b'-'))
}

/// The line after at most three leading spaces (more make Markdown code).
fn markdown_indent(line: &str) -> Option<&str> {
    let indent = line.bytes().take_while(|&b| b == b' ').count();
    (indent <= 3).then(|| &line[indent..])
}

/// An ATX heading's level and text: `#` to `######`, then a space or tab (or nothing).
fn atx_heading(line: &str) -> Option<(usize, &str)> {
    let rest = markdown_indent(line)?;
    let level = rest.bytes().take_while(|&b| b == b'#').count();
    let after = &rest[level..];
    if level == 0 || level > 6 || !(after.is_empty() || after.starts_with([' ', '\t'])) {
        return None;
    }
    let text = after.trim();
    // A closing run of `#`s goes, when a space sets it apart: `## The End ##`.
    let open = text.trim_end_matches('#');
    let text = if open.is_empty() {
        open
    } else if open.ends_with([' ', '\t']) {
        open.trim_end()
    } else {
        text
    };
    Some((level, text))
}

/// A plain-text chapter line: "CHAPTER ONE", "Chapter 2: The Storm", "Part IV. Home", "Prologue".
/// "Part of me wanted…" is a sentence, not a chapter.
fn is_chapter_line(line: &str) -> bool {
    let line = line.trim();
    let keyword = line.bytes().take_while(u8::is_ascii_alphabetic).count();
    let (keyword, rest) = line.split_at(keyword);
    let is = |word: &str| keyword.eq_ignore_ascii_case(word);
    let needs_number = if is("chapter") || is("part") {
        true
    } else if is("prologue") || is("epilogue") {
        false
    } else {
        return false;
    };
    let spaced = rest.trim_start();
    let numbered = (spaced.len() < rest.len())
        .then(|| numeral(spaced))
        .flatten();
    let tail = match numbered {
        Some(tail) => tail,
        None if needs_number => return false,
        None => rest,
    };
    let tail = tail.trim_start();
    tail.is_empty() || tail.starts_with([':', '.'])
}

/// The text after a leading number: digits, a roman numeral, or words ("twenty-one").
fn numeral(text: &str) -> Option<&str> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let end = if digits > 0 {
        digits
    } else {
        let word = ascii_word(text);
        if is_roman(word) {
            word.len()
        } else {
            spelled_number(text)?
        }
    };
    let rest = &text[end..];
    let boundary = !rest.starts_with(|c: char| c.is_alphanumeric());
    boundary.then_some(rest)
}

/// The leading run of ASCII letters.
fn ascii_word(text: &str) -> &str {
    let len = text.bytes().take_while(u8::is_ascii_alphabetic).count();
    &text[..len]
}

/// A roman numeral from 1 to 3999 in its usual form, in either case.
fn is_roman(word: &str) -> bool {
    const DIGITS: [(&str, u32); 13] = [
        ("M", 1000),
        ("CM", 900),
        ("D", 500),
        ("CD", 400),
        ("C", 100),
        ("XC", 90),
        ("L", 50),
        ("XL", 40),
        ("X", 10),
        ("IX", 9),
        ("V", 5),
        ("IV", 4),
        ("I", 1),
    ];
    let upper = word.to_ascii_uppercase();
    let value = |s: &str| -> Option<u32> {
        let mut rest = s;
        let mut total = 0;
        while !rest.is_empty() {
            let (digit, worth) = DIGITS.iter().find(|(d, _)| rest.starts_with(d))?;
            total += worth;
            rest = &rest[digit.len()..];
        }
        Some(total)
    };
    // Reading greedily and writing the value back must give the same letters: "IIII" is no numeral.
    let Some(mut left) = value(&upper).filter(|v| (1..4000).contains(v)) else {
        return false;
    };
    let mut canonical = String::new();
    for (digit, worth) in DIGITS {
        while left >= worth {
            canonical.push_str(digit);
            left -= worth;
        }
    }
    canonical == upper
}

/// The length of a number written in English words at the start of `text`, if one is there:
/// one to nineteen, the tens with an optional unit ("twenty-one", "twenty one"), and hundreds.
fn spelled_number(text: &str) -> Option<usize> {
    const UNITS: [&str; 9] = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    const TEENS: [&str; 10] = [
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    let is = |words: &[&str], at: usize| {
        let word = ascii_word(&text[at..]);
        words
            .iter()
            .any(|w| w.eq_ignore_ascii_case(word))
            .then_some(at + word.len())
    };
    // The next word's start, past one hyphen or a run of spaces.
    let next = |at: usize| {
        let rest = &text[at..];
        let gap = if rest.starts_with('-') {
            1
        } else {
            rest.len() - rest.trim_start_matches(' ').len()
        };
        (gap > 0).then_some(at + gap)
    };
    let below_hundred = |at: usize| {
        if let Some(end) = is(&TENS, at) {
            return Some(next(end).and_then(|n| is(&UNITS, n)).unwrap_or(end));
        }
        is(&UNITS, at).or_else(|| is(&TEENS, at))
    };
    let hundred = |at: usize| is(&["hundred"], at);
    let hundreds = hundred(0).or_else(|| is(&UNITS, 0).and_then(next).and_then(hundred));
    let Some(end) = hundreds else {
        return below_hundred(0);
    };
    let rest = next(end).and_then(|n| {
        let n = is(&["and"], n).and_then(next).unwrap_or(n);
        below_hundred(n)
    });
    Some(rest.unwrap_or(end))
}

/// Which counting a text allows: by hand for ASCII and for Latin-script text with the usual
/// typography (the characters [`latin`] knows), by the segmenter for anything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Script {
    Ascii,
    Latin,
    Other,
}

fn script(text: &str) -> Script {
    if text.is_ascii() {
        return Script::Ascii;
    }
    let mut at = 0;
    while let Some(found) = next_non_ascii(text.as_bytes(), at) {
        let Some(c) = text[found..].chars().next() else {
            break;
        };
        if latin(c).is_none() {
            return Script::Other;
        }
        at = found + c.len_utf8();
    }
    Script::Latin
}

/// The first byte from `from` that is not ASCII, eight bytes at a time.
fn next_non_ascii(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(word) = bytes.get(at..at + 8) {
        let mut eight = [0; 8];
        eight.copy_from_slice(word);
        let high = u64::from_le_bytes(eight) & 0x8080_8080_8080_8080;
        if high != 0 {
            return Some(at + high.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|b| !b.is_ascii())
        .map(|i| at + i)
}

/// The non-ASCII characters that the hand counters know, with their UAX #29 classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Latin {
    /// À to ſ, but × and ÷: a letter (word class `ALetter`; sentence class Upper or Lower).
    Letter,
    /// ‘ ’: a closing mark for sentences (`Close`) that joins letters and digits (`MidNumLet`).
    Apostrophe,
    /// « » ‚ ‛ “ ” „ ‟ (`Close`).
    Quote,
    /// – — (`SContinue`).
    Dash,
    /// The no-break space (`Sp`).
    Space,
    /// … (no class of its own).
    Ellipsis,
}

fn latin(c: char) -> Option<Latin> {
    match c {
        '\u{D7}' | '\u{F7}' => None,
        '\u{C0}'..='\u{17F}' => Some(Latin::Letter),
        '\u{2018}' | '\u{2019}' => Some(Latin::Apostrophe),
        '\u{AB}' | '\u{BB}' | '\u{201A}'..='\u{201F}' => Some(Latin::Quote),
        '\u{2013}' | '\u{2014}' => Some(Latin::Dash),
        '\u{A0}' => Some(Latin::Space),
        '\u{2026}' => Some(Latin::Ellipsis),
        _ => None,
    }
}

/// Words by Unicode word boundaries: a segment holding a letter or digit is a word, except that
/// each Chinese character and Japanese kana or kanji is one.
pub fn count_words(text: &str) -> u64 {
    words_in(text, script(text))
}

fn words_in(text: &str, script: Script) -> u64 {
    match script {
        Script::Ascii => ascii_words(text.as_bytes()),
        Script::Latin => latin_words(text),
        Script::Other => mixed_words(text),
    }
}

/// Counts ASCII stretches by hand and gives only the tokens holding other characters to the
/// segmenter. UAX #29 always breaks before a space or tab (but between two, where no word is),
/// so cutting there leaves every word whole.
fn mixed_words(text: &str) -> u64 {
    let mut words = 0;
    let mut rest = text;
    while let Some(at) = next_non_ascii(rest.as_bytes(), 0) {
        let start = rest[..at].rfind([' ', '\t']).unwrap_or(0);
        let end = rest[at..].find([' ', '\t']).map_or(rest.len(), |e| at + e);
        words += ascii_words(&rest.as_bytes()[..start]);
        let token = &rest[start..end];
        words += match script(token) {
            Script::Other => token.split_word_bounds().map(segment_words).sum(),
            Script::Latin | Script::Ascii => latin_words(token),
        };
        rest = &rest[end..];
    }
    words + ascii_words(rest.as_bytes())
}

/// The words in one UAX #29 segment.
fn segment_words(segment: &str) -> u64 {
    let mut alone = 0;
    let mut word = false;
    for c in segment.chars() {
        if counts_alone(c) {
            alone += 1;
        } else if !word {
            word = c.is_alphanumeric();
        }
    }
    alone + u64::from(word)
}

/// Chinese characters, kana and kanji: a word each. (UAX #29 leaves them single, except that it
/// joins runs of katakana.)
fn counts_alone(c: char) -> bool {
    matches!(c,
        '\u{3005}'..='\u{3007}'     // 々 〆 〇
        | '\u{3021}'..='\u{3029}'   // Suzhou numerals
        | '\u{3031}'..='\u{3035}'   // kana repeat marks
        | '\u{3038}'..='\u{303C}'
        | '\u{3040}'..='\u{30FF}'   // hiragana, katakana
        | '\u{31F0}'..='\u{31FF}'   // katakana extensions
        | '\u{3400}'..='\u{4DBF}'   // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK unified ideographs
        | '\u{F900}'..='\u{FAFF}'   // compatibility ideographs
        | '\u{FF66}'..='\u{FF9F}'   // half-width katakana
        | '\u{1B000}'..='\u{1B16F}' // kana supplement and extensions
        | '\u{20000}'..='\u{323AF}' // CJK extensions B to H
    ) && c.is_alphanumeric()
}

/// Chinese characters and hiragana, which UAX #29 joins to nothing before them.
fn stands_alone(c: char) -> bool {
    matches!(c,
        '\u{3041}'..='\u{3096}'
        | '\u{309D}'..='\u{309F}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{323AF}'
    )
}

/// Word-boundary classes, as bits, of the characters the hand counters know.
const LETTER: u8 = 1;
const DIGIT: u8 = 2;
/// `:` `.` `'` `’` between two letters keep them one word (UAX #29 WB6, WB7).
const JOINS_LETTERS: u8 = 4;
/// `,` `;` `.` `'` `’` between two digits keep them one number (WB11, WB12).
const JOINS_DIGITS: u8 = 8;
/// `_` joins whatever letters and digits touch it (rules `WB13a`, `WB13b`).
const UNDERSCORE: u8 = 16;

const fn ascii_class(b: u8) -> u8 {
    let letter = ((b | 0x20).wrapping_sub(b'a') < 26) as u8;
    let digit = (b.wrapping_sub(b'0') < 10) as u8;
    let both = ((b == b'.') | (b == b'\'')) as u8;
    let letters = (b == b':') as u8 | both;
    let digits = ((b == b',') | (b == b';')) as u8 | both;
    let underscore = (b == b'_') as u8;
    letter | (digit << 1) | (letters << 2) | (digits << 3) | (underscore << 4)
}

/// [`ascii_class`] of every ASCII byte, for the loops that read a character at a time.
static ASCII_CLASSES: [u8; 128] = {
    let mut classes = [0; 128];
    let mut b = 0;
    while b < 128 {
        classes[b] = ascii_class(b as u8);
        b += 1;
    }
    classes
};

/// For an ASCII character or one that [`latin`] knows.
fn word_class(c: char) -> u8 {
    match ASCII_CLASSES.get(c as usize) {
        Some(&class) => class,
        None => match latin(c) {
            Some(Latin::Letter) => LETTER,
            Some(Latin::Apostrophe) => JOINS_LETTERS | JOINS_DIGITS,
            _ => 0,
        },
    }
}

/// UAX #29 words in ASCII text: where a letter or digit starts a segment.
fn ascii_words(bytes: &[u8]) -> u64 {
    if bytes.contains(&b'_') {
        return words_by_state(bytes.iter().map(|&b| ascii_class(b)));
    }
    let mut words = Windows::default();
    for piece in bytes.chunks(Windows::PIECE) {
        for (class, &b) in words.slots().iter_mut().zip(piece) {
            *class = ascii_class(b);
        }
        words.count(piece.len());
    }
    words.total
}

/// [`ascii_words`] for text with characters that [`latin`] knows.
fn latin_words(text: &str) -> u64 {
    if text.contains('_') {
        return words_by_state(text.chars().map(word_class));
    }
    let mut words = Windows::default();
    let mut chars = text.chars();
    loop {
        let mut len = 0;
        for (class, c) in words.slots().iter_mut().zip(&mut chars) {
            *class = word_class(c);
            len += 1;
        }
        if len == 0 {
            return words.total;
        }
        words.count(len);
    }
}

/// Counts word starts among characters' classes (without `_`), a piece at a time: each judged
/// with the two before it, the first two slots carrying the last two of the piece before. The
/// loop has no dependency between iterations and byte-wide counters: the compiler vectorises it.
struct Windows {
    classes: [u8; Self::PIECE + 2],
    total: u64,
}

impl Default for Windows {
    fn default() -> Self {
        Self {
            classes: [0; Self::PIECE + 2],
            total: 0,
        }
    }
}

impl Windows {
    const PIECE: usize = 254;

    /// Where the next piece's classes go.
    fn slots(&mut self) -> &mut [u8] {
        &mut self.classes[2..]
    }

    /// Counts the `len` classes just written.
    fn count(&mut self, len: usize) {
        let classes = &self.classes;
        let triples = classes[..len]
            .iter()
            .zip(&classes[1..=len])
            .zip(&classes[2..len + 2]);
        let mut count = 0_u8;
        for ((&before, &previous), &class) in triples {
            let joined = (previous & JOINS_LETTERS != 0) & (before & class & LETTER != 0)
                | (previous & JOINS_DIGITS != 0) & (before & class & DIGIT != 0);
            let alnum = (class & (LETTER | DIGIT) != 0) & (previous & (LETTER | DIGIT) == 0);
            count += u8::from(alnum & !joined);
        }
        self.total += u64::from(count);
        self.classes.copy_within(len..len + 2, 0);
    }
}

/// Words from their characters' classes, one at a time: for text with `_`, and for Latin text.
fn words_by_state(classes: impl Iterator<Item = u8>) -> u64 {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Outside,
        /// Underscores with no letter or digit yet.
        Underscores,
        Letter,
        Digit,
        /// An underscore after a letter or digit.
        Joined,
        /// A letter, then a character that joins letters.
        LetterMid,
        /// A digit, then a character that joins digits.
        DigitMid,
    }
    let mut words = 0;
    let mut state = State::Outside;
    for class in classes {
        let (next, starts) = if class & UNDERSCORE != 0 {
            let alnum_before = matches!(state, State::Letter | State::Digit | State::Joined);
            let next = if alnum_before {
                State::Joined
            } else {
                State::Underscores
            };
            (next, false)
        } else if class & (LETTER | DIGIT) != 0 {
            let letter = class & LETTER != 0;
            let continues = match state {
                State::Letter | State::Digit | State::Joined | State::Underscores => true,
                State::LetterMid => letter,
                State::DigitMid => !letter,
                State::Outside => false,
            };
            let next = if letter { State::Letter } else { State::Digit };
            // Underscores alone are no word: the first letter or digit among them starts one.
            (next, !continues || state == State::Underscores)
        } else {
            let next = match state {
                State::Letter if class & JOINS_LETTERS != 0 => State::LetterMid,
                State::Digit if class & JOINS_DIGITS != 0 => State::DigitMid,
                _ => State::Outside,
            };
            (next, false)
        };
        words += u64::from(starts);
        state = next;
    }
    words
}

/// Whether the text holds a letter or a digit.
fn has_word(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

/// The sentences that end before the text's last sentence boundary and hold a word (the first
/// one also when `first_has_word`), and where that last boundary is (0 when there is none).
fn complete_sentences(text: &str, script: Script, first_has_word: bool) -> (u64, usize) {
    let mut sentences = 0;
    let mut start = 0;
    let mut boundary = |next: usize| {
        let word = has_word(&text[start..next]) || (start == 0 && first_has_word);
        sentences += u64::from(word);
        start = next;
    };
    match script {
        Script::Ascii | Script::Latin => sentences_by_hand(text, boundary),
        Script::Other => {
            for (next, _) in text.split_sentence_bound_indices().skip(1) {
                boundary(next);
            }
        }
    }
    (sentences, start)
}

/// Sentence-boundary classes (UAX #29) of the characters the hand counter knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sc {
    Upper,
    Lower,
    Digit,
    /// `.` `!` `?`
    Terminator,
    /// CR, LF
    LineBreak,
    Close,
    Sp,
    SContinue,
    Other,
}

/// For an ASCII character or one that [`latin`] knows.
fn sentence_class(c: char) -> Sc {
    match c {
        'a'..='z' => Sc::Lower,
        'A'..='Z' => Sc::Upper,
        '0'..='9' => Sc::Digit,
        '.' | '!' | '?' => Sc::Terminator,
        '\r' | '\n' => Sc::LineBreak,
        '"' | '\'' | '(' | ')' | '[' | ']' | '{' | '}' => Sc::Close,
        ' ' | '\t' | '\u{b}' | '\u{c}' => Sc::Sp,
        ',' | '-' | ':' | ';' => Sc::SContinue,
        _ => match latin(c) {
            Some(Latin::Letter) if c.is_lowercase() => Sc::Lower,
            Some(Latin::Letter) => Sc::Upper,
            Some(Latin::Apostrophe | Latin::Quote) => Sc::Close,
            Some(Latin::Dash) => Sc::SContinue,
            Some(Latin::Space) => Sc::Sp,
            Some(Latin::Ellipsis) | None => Sc::Other,
        },
    }
}

/// UAX #29 sentence boundaries in ASCII or Latin text, by hand, each passed to `boundary`: the
/// segmenter's state machine reads every character, while a boundary can only follow `.` `!`
/// `?` or a line break, all of them ASCII.
fn sentences_by_hand(text: &str, mut boundary: impl FnMut(usize)) {
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(found) = next_terminator(bytes, at) {
        let end = match bytes[found] {
            b'\r' | b'\n' => Ok(after_line_break(bytes, found)),
            _ => after_terminator(text, found),
        };
        at = match end {
            Ok(end) => {
                if end < bytes.len() {
                    boundary(end);
                }
                end
            }
            Err(resume) => resume,
        };
    }
}

/// The first `.` `!` `?` CR or LF at or after `from`.
fn next_terminator(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte of `word` that equals `b`. A byte just above a match may be set
    // too, which never matters: only the lowest match is used.
    let matches = |word: u64, b: u8| {
        let x = word ^ (ONES * u64::from(b));
        x.wrapping_sub(ONES) & !x & HIGHS
    };
    let terminators = |word: u64| {
        matches(word, b'.')
            | matches(word, b'!')
            | matches(word, b'?')
            | matches(word, b'\r')
            | matches(word, b'\n')
    };
    let mut at = from;
    // Eight bytes at a time, as one word.
    while let Some(word) = bytes.get(at..at + 8) {
        let mut eight = [0; 8];
        eight.copy_from_slice(word);
        let found = terminators(u64::from_le_bytes(eight));
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|b| matches!(b, b'.' | b'!' | b'?' | b'\r' | b'\n'))
        .map(|i| at + i)
}

/// Past a CR, LF or CR LF at `at`.
fn after_line_break(bytes: &[u8], at: usize) -> usize {
    if bytes[at] == b'\r' && bytes.get(at + 1) == Some(&b'\n') {
        at + 2
    } else {
        at + 1
    }
}

/// Where the sentence ended by the `.` `!` or `?` at `term` ends (`Ok`), or, when the rules keep
/// it going, where to look for the next terminator (`Err`).
fn after_terminator(text: &str, term: usize) -> Result<usize, usize> {
    let full_stop = text.as_bytes()[term] == b'.';
    let next = term + 1;
    let rest = &text[next..];
    if full_stop && let Some(after) = rest.chars().next().map(sentence_class) {
        // SB6: "3.14"; SB7: "U.S.A".
        let before = text[..term].chars().next_back().map(sentence_class);
        let letter_before = matches!(before, Some(Sc::Upper | Sc::Lower));
        if after == Sc::Digit || (after == Sc::Upper && letter_before) {
            return Err(next);
        }
    }
    // SB8: after a full stop, closing marks and spaces, a lowercase letter ahead (past anything
    // but letters, terminators and line breaks) continues the sentence: "etc. and".
    if full_stop {
        let ahead = rest
            .chars()
            .map(sentence_class)
            .find(|c| matches!(c, Sc::Upper | Sc::Lower | Sc::Terminator | Sc::LineBreak));
        if ahead == Some(Sc::Lower) {
            return Err(next);
        }
    }
    // SB9, SB10: closing marks, then spaces, then one line break stay with the sentence.
    let mut end = next;
    let mut classes = rest
        .chars()
        .map(|c| (c.len_utf8(), sentence_class(c)))
        .peekable();
    while let Some((len, _)) = classes.next_if(|&(_, class)| class == Sc::Close) {
        end += len;
    }
    while let Some((len, _)) = classes.next_if(|&(_, class)| class == Sc::Sp) {
        end += len;
    }
    match classes.next().map(|(_, class)| class) {
        // SB8a: "?!", "Really?, he said".
        None | Some(Sc::SContinue | Sc::Terminator) => Err(end),
        Some(Sc::LineBreak) => Ok(after_line_break(text.as_bytes(), end)),
        // SB11.
        Some(_) => Ok(end),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn read(text: &str) -> Shape {
        let mut lines = Lines::default();
        lines.feed(text);
        lines.finish()
    }

    fn titles(shape: &Shape) -> Vec<(Option<&str>, u64)> {
        shape
            .chapters
            .iter()
            .map(|c| (c.title.as_deref(), c.words))
            .collect()
    }

    /// UAX #29 as the segmenter gives it, and the word-processor rule for Chinese and Japanese.
    fn reference_words(text: &str) -> u64 {
        text.split_word_bounds().map(segment_words).sum()
    }

    fn reference_sentences(text: &str) -> Vec<usize> {
        text.split_sentence_bound_indices()
            .skip(1)
            .map(|(start, _)| start)
            .collect()
    }

    #[test]
    fn words_follow_unicode_boundaries_not_spaces() {
        assert_eq!(
            count_words("can't stop: 3.14, U.S.A. and e.g. — “quotes”"),
            7
        );
        assert_eq!(count_words("# Chapter ✍ - *Julia*"), 2);
        assert_eq!(count_words("snake_case _x __ a_1"), 3);
    }

    #[test]
    fn persian_words_joined_by_zwnj_or_marks_stay_one() {
        // می‌خواهم and کتاب‌ها hold a ZWNJ; کِتاب a kasra.
        assert_eq!(
            count_words("من می\u{200c}خواهم کتاب\u{200c}ها و کِتاب را"),
            6
        );
    }

    #[test]
    fn each_chinese_character_and_kana_is_a_word() {
        assert_eq!(count_words("我是作家。我写书。"), 7);
        assert_eq!(
            count_words("コーヒーが好き"),
            7,
            "the katakana run is split"
        );
        assert_eq!(count_words("한국어 단어 세 개"), 4, "Korean by its spaces");
    }

    #[test]
    fn markdown_headings_start_chapters_and_text_before_them_is_one_too() {
        let shape =
            read("Foreword here.\n\n# One\nText of one.\n\n## Two ##\nMore.\n### Scene\nEnd.\n");
        assert_eq!(
            titles(&shape),
            [(None, 2), (Some("One"), 4), (Some("Two"), 4)]
        );
        assert_eq!(shape.words, 10);
        assert_eq!((shape.paragraphs, shape.sentences), (4, 4));
    }

    #[test]
    fn a_setext_underline_makes_a_one_line_paragraph_a_heading() {
        let shape = read("Title\n=====\nBody text.\n\nTwo lines\nof text\n---\nAfter.\n");
        assert_eq!(titles(&shape), [(Some("Title"), 8)]);
        assert_eq!(shape.paragraphs, 3, "the rule under two lines is a break");
    }

    #[test]
    fn plain_chapter_lines_are_recognised() {
        for line in [
            "CHAPTER ONE",
            "Chapter 2: The Storm",
            "Part IV. Home",
            "Prologue",
            "  epilogue: after  ",
            "Chapter Twenty-One",
            "chapter twenty one",
            "Part One Hundred and Five",
            "Chapter xiv",
        ] {
            assert!(is_chapter_line(line), "{line}");
        }
        for line in [
            "Part of me wanted to stay.",
            "Chapter and verse",
            "Chapters 1",
            "Part I wanted",
            "Chapter IIII",
            "Prologue to the story",
            "Chapter twenty-onesie",
            "Chapter",
        ] {
            assert!(!is_chapter_line(line), "{line}");
        }
    }

    #[test]
    fn sentences_are_counted_within_paragraphs() {
        let shape = read("Mr. Smith went to Washington. He\nsaid hi! Did he?\n\n3.14 is pi.\n");
        // "Mr. " is a sentence to UAX #29, which knows no abbreviations: 13 words, 5 sentences.
        assert_eq!((shape.paragraphs, shape.sentences), (2, 5));
        assert_eq!(shape.average_sentence_words, Some(2.6));
        assert_eq!(read("").average_sentence_words, None);
    }

    #[test]
    fn chapters_beyond_the_cap_fold_into_the_last() {
        let text = "# C\nword\n".repeat(MAX_CHAPTERS + 5);
        let shape = read(&text);
        assert_eq!(shape.chapters.len(), MAX_CHAPTERS);
        assert_eq!(shape.chapters.last().map(|c| c.words), Some(2 * 6));
        assert_eq!(shape.words, 2 * (MAX_CHAPTERS as u64 + 5));
    }

    #[test]
    fn titles_are_trimmed_and_capped() {
        let long = format!("# {}\n", "x".repeat(300));
        let shape = read(&long);
        let title = shape.chapters[0].title.as_deref().unwrap_or_default();
        assert_eq!(title.chars().count(), MAX_TITLE_CHARS);
        assert_eq!(
            read("#   Spaced   out  \n").chapters[0].title.as_deref(),
            Some("Spaced out")
        );
    }

    #[test]
    fn a_paragraph_past_the_cap_is_counted_in_pieces_with_the_same_figures() {
        let sentence = "The quick brown fox jumps over the lazy dog. ";
        let paragraph = sentence.repeat(4_000); // 180 KB, one line
        let whole = read(&paragraph);
        assert_eq!(
            (whole.words, whole.sentences, whole.paragraphs),
            (36_000, 4_000, 1)
        );
        let mut small = Lines::with_caps(64, 256);
        small.feed(&paragraph);
        assert_eq!(small.finish(), whole);
    }

    #[test]
    fn buffers_stay_within_their_caps() {
        let mut lines = Lines::default();
        // Half a megabyte without a newline, then as many lines without a blank one.
        for piece in "word ".repeat(100_000).as_bytes().chunks(8_192) {
            lines.feed(std::str::from_utf8(piece).expect("ASCII"));
        }
        lines.feed("\n");
        for _ in 0..10_000 {
            lines.feed("Another line of the same paragraph.\n");
        }
        assert!(lines.line.capacity() <= 2 * LINE_BYTES);
        assert!(lines.manuscript.block.capacity() <= 2 * BLOCK_BYTES);
        let shape = lines.finish();
        assert_eq!((shape.words, shape.paragraphs), (100_000 + 60_000, 1));
        assert_eq!(shape.sentences, 10_000);
    }

    #[test]
    fn one_sentence_past_the_cap_is_still_one() {
        let sentence = format!("{}end.", "word ".repeat(100));
        let mut small = Lines::with_caps(64, 128);
        small.feed(&sentence);
        let shape = small.finish();
        assert_eq!((shape.words, shape.sentences), (101, 1));
    }

    fn manuscript_text() -> impl Strategy<Value = String> {
        let line = prop_oneof![
            Just(String::new()),
            Just("# Chapter One".to_owned()),
            Just("## Zwei ##".to_owned()),
            Just("CHAPTER TWO".to_owned()),
            Just("Part of me wanted more.".to_owned()),
            Just("===".to_owned()),
            Just("---".to_owned()),
            Just("我是作家。我写书。".to_owned()),
            Just("من می\u{200c}خواهم.".to_owned()),
            "[a-zA-Z .,!?'\"()_:;0-9\t-]{0,60}",
            "[a-zé’“” .!?]{0,30}",
        ];
        proptest::collection::vec(line, 0..30).prop_map(|lines| lines.join("\n"))
    }

    proptest! {
        #[test]
        fn ascii_words_match_the_segmenter(text in "[a-zA-Z0-9_ .,:;'\"!?()\t\n-]{0,200}") {
            prop_assert_eq!(count_words(&text), reference_words(&text));
        }

        #[test]
        fn words_match_the_segmenter(text in "[a-zA-Z0-9_ .,:'\t\u{e9}\u{301}\u{200c}\u{200d}\u{64e}\u{627}\u{628}\u{5d0}\u{22}\u{2019}\u{2014}\u{3002}\u{6211}\u{3042}\u{30a2}\u{30fc}\u{ac00}\u{1f1fa}\u{a0}-]{0,120}") {
            prop_assert_eq!(count_words(&text), reference_words(&text));
        }

        #[test]
        fn ascii_sentences_match_the_segmenter(text in "[a-zA-Z0-9 .!?,;:'\"()\t\r\n\u{b}-]{0,200}") {
            let mut ours = Vec::new();
            sentences_by_hand(&text, |s| ours.push(s));
            prop_assert_eq!(ours, reference_sentences(&text));
        }

        #[test]
        fn latin_sentences_match_the_segmenter(text in "[a-zA-Z0-9 .!?,;:'\"()\n\u{c0}-\u{d6}\u{d8}-\u{f6}\u{f8}-\u{17f}\u{a0}\u{ab}\u{bb}\u{2013}\u{2014}\u{2018}-\u{201f}\u{2026}-]{0,200}") {
            prop_assume!(script(&text) != Script::Other);
            let mut ours = Vec::new();
            sentences_by_hand(&text, |s| ours.push(s));
            prop_assert_eq!(ours, reference_sentences(&text));
        }

        #[test]
        fn latin_words_match_the_segmenter(text in "[a-zA-Z0-9_ .,;:'\"\u{c0}-\u{d6}\u{d8}-\u{f6}\u{f8}-\u{17f}\u{a0}\u{ab}\u{bb}\u{2013}\u{2014}\u{2018}-\u{201f}\u{2026}-]{0,200}") {
            prop_assume!(script(&text) != Script::Other);
            prop_assert_eq!(count_words(&text), reference_words(&text));
        }

        #[test]
        fn chunking_and_caps_never_change_the_shape(text in manuscript_text(), cuts in proptest::collection::vec(0usize..2000, 0..8)) {
            let whole = read(&text);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| text.floor_char_boundary(c.min(text.len()))).collect();
            cuts.sort_unstable();
            let mut lines = Lines::default();
            let mut start = 0;
            for cut in cuts.into_iter().chain([text.len()]) {
                lines.feed(&text[start..cut]);
                start = cut;
            }
            prop_assert_eq!(lines.finish(), whole.clone());
            prop_assert_eq!(whole.chapters.iter().map(|c| c.words).sum::<u64>(), whole.words);
            prop_assert_eq!(whole.words, count_words(&text));
        }

        #[test]
        fn chunking_never_changes_the_shape_at_small_caps(text in manuscript_text(), cuts in proptest::collection::vec(0usize..2000, 0..8)) {
            let feed = |pieces: &[&str]| {
                let mut lines = Lines::with_caps(24, 48);
                for piece in pieces {
                    lines.feed(piece);
                }
                lines.finish()
            };
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| text.floor_char_boundary(c.min(text.len()))).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut start = 0;
            for cut in cuts.into_iter().chain([text.len()]) {
                pieces.push(&text[start..cut]);
                start = cut;
            }
            let small = feed(&pieces);
            prop_assert_eq!(&small, &feed(&[&text]));
            // Text 48 bytes without a space must be cut inside a word; anything else never is.
            let spaced = text.split([' ', '\n']).all(|run| run.len() < 24);
            if spaced {
                prop_assert_eq!(small.words, read(&text).words, "the caps cut between words");
            }
        }
    }
}
