//! `.docx` manuscripts: the body text of a Word document, read from its zip archive in pieces.
//!
//! A `.docx` is a zip of XML parts and the text is in `word/document.xml`. The archive is read
//! the way S3 serves it, by ranges: its end (where the central directory is), the central
//! directory, the body part's local header, then the body's compressed bytes, inflated and
//! scanned chunk by chunk. Nothing here holds more than one chunk of the body.
//!
//! Caps on the entry count, the central directory, the decompressed size and the compression
//! ratio stop a zip bomb with a [`Rejected`] message long before it could exhaust memory or
//! time; the processor then cancels the task with that message.

use flate2::{Crc, Decompress, FlushDecompress, Status};

use crate::files::analysis::{TextCounter, TextStats};

/// The media type of a Word document.
pub const CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
/// The part that holds the document's body text.
pub const BODY_PART: &str = "word/document.xml";
/// More entries than any manuscript has; a central directory of millions is an attack.
pub const MAX_ENTRIES: u64 = 10_000;
/// The central directory is read whole, so it is capped.
pub const MAX_CENTRAL_DIRECTORY_BYTES: u64 = 4 << 20;
/// The body part, decompressed: a 1,000-page novel is a few tens of MiB of XML.
pub const MAX_BODY_BYTES: u64 = 256 << 20;
/// Word's XML compresses about 10:1; 100:1 is only reached by padding built to expand.
pub const MAX_RATIO: u64 = 100;
/// Below this many decompressed bytes the ratio is not judged: tiny parts compress extremely well.
const RATIO_FLOOR: u64 = 1 << 20;
/// The end-of-central-directory record is 22 bytes, followed by a comment of at most 65,535.
pub const TAIL_BYTES: u64 = 22 + 65_535;
/// A local file header's fixed part.
pub const LOCAL_HEADER_BYTES: u64 = 30;
/// How much inflated output is scanned at a time.
const INFLATE_CHUNK: usize = 64 << 10;

/// Why an archive cannot be read as a manuscript: corrupt, or beyond a cap. Permanent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejected(pub String);

fn rejected(message: impl Into<String>) -> Rejected {
    Rejected(message.into())
}

/// Where the central directory is, from the end-of-central-directory record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Directory {
    pub offset: u64,
    pub size: u64,
    pub entries: u64,
}

/// The body part's entry in the central directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyEntry {
    /// 0 stored, 8 deflated.
    pub method: u16,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub crc32: u32,
    pub local_header_offset: u64,
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Finds the end-of-central-directory record in the last [`TAIL_BYTES`] of an archive of
/// `archive_size` bytes, and checks the directory it points at against the caps.
///
/// # Errors
/// [`Rejected`] when there is no record (not a zip, or truncated), the archive is ZIP64 or
/// split, or the directory is over a cap or outside the file.
pub fn locate_directory(tail: &[u8], archive_size: u64) -> Result<Directory, Rejected> {
    const SIGNATURE: &[u8] = b"PK\x05\x06";
    let tail_start = archive_size.saturating_sub(tail.len() as u64);
    // The record is the last signature whose comment length reaches exactly the end.
    let record = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&at| {
            tail[at..].starts_with(SIGNATURE)
                && at + 22 + usize::from(u16_at(tail, at + 20)) == tail.len()
        })
        .ok_or_else(|| rejected("it is not a readable zip archive (no central directory)"))?;
    let r = &tail[record..];
    let (disk, directory_disk) = (u16_at(r, 4), u16_at(r, 6));
    let entries = u64::from(u16_at(r, 10));
    let size = u64::from(u32_at(r, 12));
    let offset = u64::from(u32_at(r, 16));
    if entries == 0xffff || size == 0xffff_ffff || offset == 0xffff_ffff {
        return Err(rejected("ZIP64 archives are not supported for manuscripts"));
    }
    if disk != 0 || directory_disk != 0 {
        return Err(rejected("split zip archives are not supported"));
    }
    if entries > MAX_ENTRIES {
        return Err(rejected(format!(
            "the archive has {entries} entries; at most {MAX_ENTRIES} are accepted"
        )));
    }
    if size > MAX_CENTRAL_DIRECTORY_BYTES {
        return Err(rejected("the archive's central directory is too large"));
    }
    if offset + size > tail_start + record as u64 {
        return Err(rejected(
            "the archive's central directory lies outside the file",
        ));
    }
    Ok(Directory {
        offset,
        size,
        entries,
    })
}

/// Reads the central directory and returns the body part's entry, if there is one: an archive
/// without `word/document.xml` is a zip, not a Word document.
///
/// # Errors
/// [`Rejected`] when an entry is malformed, or more entries are present than declared.
pub fn find_body(directory: &[u8], declared: Directory) -> Result<Option<BodyEntry>, Rejected> {
    const SIGNATURE: &[u8] = b"PK\x01\x02";
    const FIXED: usize = 46;
    let mut at = 0;
    let mut body = None;
    for _ in 0..declared.entries {
        let entry = directory
            .get(at..at + FIXED)
            .filter(|e| e.starts_with(SIGNATURE))
            .ok_or_else(|| rejected("the archive's central directory is corrupt"))?;
        let name_len = usize::from(u16_at(entry, 28));
        let extra_len = usize::from(u16_at(entry, 30));
        let comment_len = usize::from(u16_at(entry, 32));
        let name = directory
            .get(at + FIXED..at + FIXED + name_len)
            .ok_or_else(|| rejected("the archive's central directory is corrupt"))?;
        if name == BODY_PART.as_bytes() {
            if body.is_some() {
                return Err(rejected("the archive holds two document bodies"));
            }
            let compressed_size = u64::from(u32_at(entry, 20));
            let uncompressed_size = u64::from(u32_at(entry, 24));
            let local_header_offset = u64::from(u32_at(entry, 42));
            if [compressed_size, uncompressed_size, local_header_offset].contains(&0xffff_ffff) {
                return Err(rejected("ZIP64 archives are not supported for manuscripts"));
            }
            if u16_at(entry, 8) & 1 == 1 {
                return Err(rejected("the document is encrypted"));
            }
            body = Some(BodyEntry {
                method: u16_at(entry, 10),
                compressed_size,
                uncompressed_size,
                crc32: u32_at(entry, 16),
                local_header_offset,
            });
        }
        at += FIXED + name_len + extra_len + comment_len;
    }
    Ok(body)
}

/// Where the body's compressed bytes start, from its local header (the first
/// [`LOCAL_HEADER_BYTES`] at [`BodyEntry::local_header_offset`]).
///
/// # Errors
/// [`Rejected`] when the header is missing or malformed.
pub fn data_start(local_header: &[u8], entry: &BodyEntry) -> Result<u64, Rejected> {
    if local_header.len() < 30 || !local_header.starts_with(b"PK\x03\x04") {
        return Err(rejected("the document body's local header is corrupt"));
    }
    let name_len = u64::from(u16_at(local_header, 26));
    let extra_len = u64::from(u16_at(local_header, 28));
    Ok(entry.local_header_offset + LOCAL_HEADER_BYTES + name_len + extra_len)
}

/// Inflates the body part chunk by chunk and counts its text, enforcing the caps as it goes.
pub struct BodyText {
    entry: BodyEntry,
    inflater: Option<Decompress>,
    buffer: Vec<u8>,
    ended: bool,
    written: u64,
    crc: Crc,
    xml: XmlText,
    counter: TextCounter,
}

impl std::fmt::Debug for BodyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyText")
            .field("entry", &self.entry)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl BodyText {
    /// Checks the entry's declared sizes against the caps before any byte is read.
    ///
    /// # Errors
    /// [`Rejected`] for an unsupported compression method or a declared size over a cap.
    pub fn new(entry: BodyEntry) -> Result<Self, Rejected> {
        let inflater = match entry.method {
            0 if entry.compressed_size != entry.uncompressed_size => {
                return Err(rejected("the document body's sizes disagree"));
            }
            0 => None,
            8 => Some(Decompress::new(false)),
            other => {
                return Err(rejected(format!(
                    "the document body uses compression method {other}; only stored and deflated are supported"
                )));
            }
        };
        let body = Self {
            entry,
            inflater,
            buffer: vec![0; INFLATE_CHUNK],
            ended: false,
            written: 0,
            crc: Crc::new(),
            xml: XmlText::default(),
            counter: TextCounter::default(),
        };
        body.check_caps(entry.uncompressed_size)?;
        Ok(body)
    }

    fn check_caps(&self, decompressed: u64) -> Result<(), Rejected> {
        if decompressed > MAX_BODY_BYTES {
            return Err(rejected(format!(
                "the document body is larger than {} MiB uncompressed",
                MAX_BODY_BYTES >> 20
            )));
        }
        if decompressed > RATIO_FLOOR
            && decompressed > MAX_RATIO.saturating_mul(self.entry.compressed_size.max(1))
        {
            return Err(rejected(format!(
                "the document body expands more than {MAX_RATIO}:1 when decompressed (a zip bomb?)"
            )));
        }
        Ok(())
    }

    /// Feeds the next chunk of the entry's compressed bytes, in order.
    ///
    /// # Errors
    /// [`Rejected`] when the data is not valid deflate, or a cap is exceeded.
    pub fn update(&mut self, compressed: &[u8]) -> Result<(), Rejected> {
        let Some(inflater) = self.inflater.as_mut() else {
            return self.emit_stored(compressed);
        };
        let mut input = compressed;
        while !self.ended {
            let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
            let status = inflater
                .decompress(input, &mut self.buffer, FlushDecompress::None)
                .map_err(|_| rejected("the document body is not valid deflate data"))?;
            let consumed = usize::try_from(inflater.total_in() - in_before).unwrap_or(usize::MAX);
            let produced = usize::try_from(inflater.total_out() - out_before).unwrap_or(usize::MAX);
            input = &input[consumed.min(input.len())..];
            self.ended = status == Status::StreamEnd;
            let output = &self.buffer[..produced];
            self.written += produced as u64;
            Self::check_written(self.entry, self.written)?;
            self.crc.update(output);
            self.xml.feed(output, &mut self.counter);
            let buffer_full = produced == self.buffer.len();
            if (input.is_empty() && !buffer_full) || (consumed == 0 && produced == 0) {
                break;
            }
        }
        Ok(())
    }

    fn emit_stored(&mut self, bytes: &[u8]) -> Result<(), Rejected> {
        self.written += bytes.len() as u64;
        Self::check_written(self.entry, self.written)?;
        self.crc.update(bytes);
        self.xml.feed(bytes, &mut self.counter);
        Ok(())
    }

    fn check_written(entry: BodyEntry, written: u64) -> Result<(), Rejected> {
        if written > entry.uncompressed_size {
            return Err(rejected(format!(
                "the document body is larger than its header says (a zip bomb?); it was stopped after {written} bytes"
            )));
        }
        // The declared size passed the caps, and the actual one may not exceed it.
        Ok(())
    }

    /// The text statistics of the whole body, once every compressed byte has been fed.
    ///
    /// # Errors
    /// [`Rejected`] when the data ended early or its checksum does not match.
    pub fn finish(self) -> Result<TextStats, Rejected> {
        if self.inflater.is_some() && !self.ended {
            return Err(rejected("the document body is truncated"));
        }
        if self.written != self.entry.uncompressed_size {
            return Err(rejected(
                "the document body's size does not match its header",
            ));
        }
        if self.crc.sum() != self.entry.crc32 {
            return Err(rejected("the document body is corrupt (checksum mismatch)"));
        }
        Ok(self.counter.finish())
    }
}

/// The text of `WordprocessingML`, streamed: the contents of `<w:t>` runs, a newline at the end of
/// each paragraph and for each line break, a tab for each run tab.
///
/// Deleted text (`<w:delText>`), comments, CDATA, attributes and properties contribute nothing.
#[derive(Debug, Default)]
struct XmlText {
    state: XmlState,
    tag: Vec<u8>,
    tag_truncated: bool,
    quote: Option<u8>,
    in_text: bool,
    entity: Vec<u8>,
    /// The last two bytes seen inside a comment or CDATA section, to find its end.
    tail: [u8; 2],
    out: Vec<u8>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum XmlState {
    #[default]
    Text,
    Tag,
    Entity,
    Comment,
    CData,
}

/// Longer tags are kept to this prefix: enough for every name and attribute the scanner reads.
const MAX_TAG_BYTES: usize = 256;
const MAX_ENTITY_BYTES: usize = 10;

impl XmlText {
    fn feed(&mut self, bytes: &[u8], counter: &mut TextCounter) {
        self.out.clear();
        for &b in bytes {
            match self.state {
                XmlState::Text => match b {
                    b'<' => {
                        self.state = XmlState::Tag;
                        self.tag.clear();
                        self.tag_truncated = false;
                        self.quote = None;
                    }
                    b'&' if self.in_text => {
                        self.state = XmlState::Entity;
                        self.entity.clear();
                    }
                    _ if self.in_text => self.out.push(b),
                    _ => {}
                },
                XmlState::Entity => {
                    if b == b';' {
                        self.push_entity();
                        self.state = XmlState::Text;
                    } else if self.entity.len() < MAX_ENTITY_BYTES {
                        self.entity.push(b);
                    } else {
                        self.out.extend_from_slice("\u{fffd}".as_bytes());
                        self.state = XmlState::Text;
                    }
                }
                XmlState::Tag => self.tag_byte(b),
                XmlState::Comment | XmlState::CData => {
                    let end = if self.state == XmlState::Comment {
                        *b"--"
                    } else {
                        *b"]]"
                    };
                    if b == b'>' && self.tail == end {
                        self.state = XmlState::Text;
                    }
                    self.tail = [self.tail[1], b];
                }
            }
        }
        counter.update(&self.out);
    }

    fn tag_byte(&mut self, b: u8) {
        match (self.quote, b) {
            (Some(q), _) if b == q => self.quote = None,
            (None, b'"' | b'\'') => self.quote = Some(b),
            (None, b'>') => {
                self.end_tag();
                self.state = XmlState::Text;
                return;
            }
            _ => {}
        }
        if self.tag.len() < MAX_TAG_BYTES {
            self.tag.push(b);
        } else {
            self.tag_truncated = true;
        }
        if self.tag == b"!--" {
            self.state = XmlState::Comment;
            self.tail = [0; 2];
        } else if self.tag == b"![CDATA[" {
            self.state = XmlState::CData;
            self.tail = [0; 2];
        }
    }

    fn end_tag(&mut self) {
        let tag = self.tag.trim_ascii_end();
        let self_closing = tag.ends_with(b"/");
        let (closing, rest) = match tag.strip_prefix(b"/") {
            Some(rest) => (true, rest),
            None => (false, tag),
        };
        let name_end = rest
            .iter()
            .position(|c| c.is_ascii_whitespace() || *c == b'/')
            .unwrap_or(rest.len());
        let has_attributes = rest[name_end..]
            .iter()
            .any(|c| !c.is_ascii_whitespace() && *c != b'/');
        match (closing, &rest[..name_end]) {
            (false, b"w:t") if !self_closing => self.in_text = true,
            (true, b"w:t") => self.in_text = false,
            (true, b"w:p") => self.out.push(b'\n'),
            (false, b"w:p") if self_closing => self.out.push(b'\n'),
            // A run's tab has no attributes; `<w:tab w:val=… w:pos=…/>` is a tab stop definition.
            (false, b"w:tab") if !has_attributes => self.out.push(b'\t'),
            (false, b"w:br" | b"w:cr") => {
                let page_or_column = !self.tag_truncated
                    && (contains(tag, b"\"page\"") || contains(tag, b"\"column\""));
                if !page_or_column {
                    self.out.push(b'\n');
                }
            }
            _ => {}
        }
    }

    fn push_entity(&mut self) {
        let decoded = match self.entity.as_slice() {
            b"amp" => Some('&'),
            b"lt" => Some('<'),
            b"gt" => Some('>'),
            b"quot" => Some('"'),
            b"apos" => Some('\''),
            [b'#', b'x' | b'X', hex @ ..] => std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32),
            [b'#', decimal @ ..] => std::str::from_utf8(decimal)
                .ok()
                .and_then(|d| d.parse::<u32>().ok())
                .and_then(char::from_u32),
            _ => None,
        };
        let mut utf8 = [0; 4];
        self.out.extend_from_slice(
            decoded
                .unwrap_or('\u{fffd}')
                .encode_utf8(&mut utf8)
                .as_bytes(),
        );
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Builds zip archives in memory for the tests below (the integration fixtures come from
/// `tests/fixtures/make_fixtures.py`).
#[cfg(test)]
mod testing {
    use std::io::Write;

    use flate2::{Compression, Crc, write::DeflateEncoder};

    /// An archive of `(name, bytes, deflate?)` entries.
    pub fn zip(entries: &[(&str, &[u8], bool)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut directory = Vec::new();
        for (name, data, deflate) in entries {
            let mut crc = Crc::new();
            crc.update(data);
            let stored = if *deflate {
                let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
                encoder.write_all(data).expect("in memory");
                encoder.finish().expect("in memory")
            } else {
                data.to_vec()
            };
            let sizes = |v: &mut Vec<u8>| {
                v.extend_from_slice(&crc.sum().to_le_bytes());
                v.extend_from_slice(&(stored.len() as u32).to_le_bytes());
                v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            };
            let method: u16 = if *deflate { 8 } else { 0 };
            let offset = out.len() as u32;
            out.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00");
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&[0; 4]);
            sizes(&mut out);
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&[0; 2]);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&stored);
            directory.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00");
            directory.extend_from_slice(&method.to_le_bytes());
            directory.extend_from_slice(&[0; 4]);
            sizes(&mut directory);
            directory.extend_from_slice(&(name.len() as u16).to_le_bytes());
            directory.extend_from_slice(&[0; 12]);
            directory.extend_from_slice(&offset.to_le_bytes());
            directory.extend_from_slice(name.as_bytes());
        }
        let directory_offset = out.len() as u32;
        out.extend_from_slice(&directory);
        out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
        let count = (entries.len() as u16).to_le_bytes();
        out.extend_from_slice(&count);
        out.extend_from_slice(&count);
        out.extend_from_slice(&(directory.len() as u32).to_le_bytes());
        out.extend_from_slice(&directory_offset.to_le_bytes());
        out.extend_from_slice(&[0; 2]);
        out
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Reads an in-memory archive the way the processor reads S3: by ranges.
    fn body_stats(archive: &[u8], chunk: usize) -> Result<Option<TextStats>, Rejected> {
        let range = |start: u64, len: u64| {
            archive
                .get(start as usize..(start + len) as usize)
                .ok_or_else(|| rejected("out of range"))
        };
        let size = archive.len() as u64;
        let tail = range(size.saturating_sub(TAIL_BYTES), size.min(TAIL_BYTES))?;
        let directory = locate_directory(tail, size)?;
        let Some(entry) = find_body(range(directory.offset, directory.size)?, directory)? else {
            return Ok(None);
        };
        let header = range(entry.local_header_offset, LOCAL_HEADER_BYTES)?;
        let data = data_start(header, &entry)?;
        let mut body = BodyText::new(entry)?;
        for piece in range(data, entry.compressed_size)?.chunks(chunk.max(1)) {
            body.update(piece)?;
        }
        body.finish().map(Some)
    }

    fn document(paragraphs: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{paragraphs}<w:sectPr/></w:body></w:document>"#
        )
    }

    fn text_of(xml: &str) -> TextStats {
        let mut scanner = XmlText::default();
        let mut counter = TextCounter::default();
        scanner.feed(xml.as_bytes(), &mut counter);
        counter.finish()
    }

    #[test]
    fn paragraphs_runs_tabs_and_breaks_become_text() {
        // "Chapter One\n" + "It was a dark\tand stormy night.\n" + "Q&A <1>\nend\n" + "\n"
        let xml = document(concat!(
            r#"<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr><w:r><w:t>Chapter One</w:t></w:r></w:p>"#,
            r#"<w:p><w:r><w:t xml:space="preserve">It was a </w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>dark</w:t><w:tab/><w:t>and stormy night.</w:t></w:r></w:p>"#,
            r#"<w:p><w:r><w:t>Q&amp;A &lt;1&#62;</w:t><w:br/><w:t>end</w:t><w:br w:type="page"/></w:r><w:del><w:r><w:delText>gone</w:delText></w:r></w:del><!-- <w:t>no</w:t> --></w:p>"#,
            r#"<w:p/>"#,
        ));
        let stats = text_of(&xml);
        // Words: Chapter One | It was a dark and stormy night. | Q&A <1> end  = 2 + 7 + 3.
        assert_eq!(stats.words, 12);
        assert_eq!(stats.lines, 5, "four paragraphs and one line break");
        let text = "Chapter One\nIt was a dark\tand stormy night.\nQ&A <1>\nend\n\n";
        assert_eq!(stats.characters, text.chars().count() as u64);
    }

    #[test]
    fn a_greater_than_sign_inside_an_attribute_does_not_end_the_tag() {
        let stats = text_of(r#"<w:p><w:r w:x="a>b"><w:t>one two</w:t></w:r></w:p>"#);
        assert_eq!((stats.words, stats.characters), (2, 8));
    }

    #[test]
    fn a_deflated_docx_is_read_by_ranges() {
        let xml = document(r#"<w:p><w:r><w:t>The end of the beginning</w:t></w:r></w:p>"#);
        let archive = testing::zip(&[
            ("[Content_Types].xml", b"<Types/>", true),
            (BODY_PART, xml.as_bytes(), true),
            ("word/styles.xml", b"<w:styles/>", false),
        ]);
        for chunk in [1, 7, 4096] {
            let stats = body_stats(&archive, chunk)
                .expect("readable")
                .expect("a body");
            assert_eq!((stats.lines, stats.words), (1, 5), "chunk {chunk}");
        }
    }

    #[test]
    fn a_zip_without_a_body_is_not_a_document() {
        let archive = testing::zip(&[("notes.txt", b"hello", false)]);
        assert_eq!(body_stats(&archive, 64), Ok(None));
    }

    #[test]
    fn what_is_not_a_zip_is_rejected() {
        assert!(locate_directory(b"PK\x03\x04 but nothing else", 24).is_err());
        let archive = testing::zip(&[(BODY_PART, b"<w:p/>", true)]);
        let truncated = &archive[..archive.len() - 5];
        assert!(body_stats(truncated, 64).is_err());
    }

    #[test]
    fn a_corrupted_body_fails_its_checksum() {
        let xml = document(r#"<w:p><w:r><w:t>abc</w:t></w:r></w:p>"#);
        let mut archive = testing::zip(&[(BODY_PART, xml.as_bytes(), false)]);
        let at = archive
            .windows(3)
            .position(|w| w == b"abc")
            .expect("stored as is");
        archive[at] = b'x';
        let error = body_stats(&archive, 64).expect_err("corrupt");
        assert!(error.0.contains("checksum"), "{error}");
    }

    #[test]
    fn a_zip_bomb_is_stopped_by_the_ratio_cap() {
        // 8 MiB of one repeated byte deflates to about 8 KiB: a thousand to one.
        let padding = vec![b' '; 8 << 20];
        let archive = testing::zip(&[(BODY_PART, &padding, true)]);
        let error = body_stats(&archive, 4096).expect_err("a bomb");
        assert!(error.0.contains("100:1"), "{error}");
    }

    #[test]
    fn declared_sizes_over_the_caps_are_refused_before_reading() {
        let entry = BodyEntry {
            method: 8,
            compressed_size: 10 << 20,
            uncompressed_size: MAX_BODY_BYTES + 1,
            crc32: 0,
            local_header_offset: 0,
        };
        assert!(BodyText::new(entry).is_err());
        assert!(
            BodyText::new(BodyEntry {
                method: 12,
                ..entry
            })
            .is_err(),
            "bzip2 is not read"
        );
    }

    #[test]
    fn a_body_larger_than_declared_is_stopped() {
        let xml = document(r#"<w:p><w:r><w:t>more than it says</w:t></w:r></w:p>"#);
        let mut archive = testing::zip(&[(BODY_PART, xml.as_bytes(), true)]);
        // Lower the uncompressed size in the central directory (offset 24 of the entry).
        let directory = archive
            .windows(4)
            .position(|w| w == b"PK\x01\x02")
            .expect("a directory");
        archive[directory + 24..directory + 28].copy_from_slice(&10u32.to_le_bytes());
        let error = body_stats(&archive, 64).expect_err("too large");
        assert!(error.0.contains("larger than its header says"), "{error}");
    }

    #[test]
    fn too_many_entries_are_refused() {
        let names: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("{i}")).collect();
        let entries: Vec<(&str, &[u8], bool)> = names
            .iter()
            .map(|n| (n.as_str(), &b""[..], false))
            .collect();
        let archive = testing::zip(&entries);
        let error = body_stats(&archive, 64).expect_err("too many");
        assert!(error.0.contains("entries"), "{error}");
    }

    proptest! {
        #[test]
        fn chunking_never_changes_the_text(words in proptest::collection::vec("[a-zA-Z&<>é]{1,8}", 0..40), cut in 1usize..50) {
            let escaped: Vec<String> = words.iter().map(|w| w.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")).collect();
            let xml = document(&format!("<w:p><w:r><w:t>{}</w:t></w:r></w:p>", escaped.join(" ")));
            let whole = text_of(&xml);
            let mut scanner = XmlText::default();
            let mut counter = TextCounter::default();
            for piece in xml.as_bytes().chunks(cut) {
                scanner.feed(piece, &mut counter);
            }
            prop_assert_eq!(counter.finish(), whole.clone());
            prop_assert_eq!(whole.words, words.len() as u64);
        }

        #[test]
        fn any_bytes_as_an_archive_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = body_stats(&bytes, 16);
            let mut archive = testing::zip(&[(BODY_PART, b"<w:p><w:r><w:t>x</w:t></w:r></w:p>", true)]);
            let at = bytes.len() % archive.len();
            archive[at] ^= bytes.first().copied().unwrap_or(1);
            let _ = body_stats(&archive, 16);
        }
    }
}
