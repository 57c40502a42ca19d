//! `.docx` manuscripts: the body text of a Word document, read from its zip archive in pieces.
//!
//! A `.docx` is a zip of XML parts: the text is in `word/document.xml`, and which paragraph
//! styles are headings in `word/styles.xml`. The archive is read the way S3 serves it, by ranges:
//! its end (where the central directory is), the central directory, then for the styles and
//! then the body their local header and their compressed bytes, inflated and scanned chunk by
//! chunk. Nothing here holds more than one chunk of a part.
//!
//! Caps on the entry count, the central directory, the decompressed sizes and the compression
//! ratio stop a zip bomb with a [`Rejected`] message long before it could exhaust memory or
//! time; the processor then cancels the task with that message.

use std::collections::HashMap;

use flate2::{Crc, Decompress, FlushDecompress, Status};

use crate::files::analysis::{TextCounter, TextStats};
use crate::files::manuscript::BlockKind;

/// The media type of a Word document.
pub const CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
/// The part that holds the document's body text.
pub const BODY_PART: &str = "word/document.xml";
/// The part that names the document's styles, and so tells which paragraphs are headings.
pub const STYLES_PART: &str = "word/styles.xml";
/// More entries than any manuscript has; a central directory of millions is an attack.
pub const MAX_ENTRIES: u64 = 10_000;
/// The central directory is read whole, so it is capped.
pub const MAX_CENTRAL_DIRECTORY_BYTES: u64 = 4 << 20;
/// The body part, decompressed: a 1,000-page novel is a few tens of MiB of XML.
pub const MAX_BODY_BYTES: u64 = 256 << 20;
/// The styles part, decompressed: Word's own is a few hundred KiB even with every latent style.
pub const MAX_STYLES_BYTES: u64 = 4 << 20;
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
/// Heading styles kept from the styles part; a real one has a dozen.
const MAX_HEADING_STYLES: usize = 1_000;

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

/// The parts of a Word document that are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// [`BODY_PART`].
    Body,
    /// [`STYLES_PART`].
    Styles,
}

impl Part {
    /// The part as messages name it.
    fn noun(self) -> &'static str {
        match self {
            Self::Body => "the document body",
            Self::Styles => "the styles part",
        }
    }

    fn max_bytes(self) -> u64 {
        match self {
            Self::Body => MAX_BODY_BYTES,
            Self::Styles => MAX_STYLES_BYTES,
        }
    }
}

/// A part's entry in the central directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub part: Part,
    /// 0 stored, 8 deflated.
    pub method: u16,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub crc32: u32,
    pub local_header_offset: u64,
}

/// The entries of the body and the styles, as far as the archive has them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Parts {
    /// `None`: a zip, but not a Word document.
    pub body: Option<Entry>,
    /// `None`: no heading styles.
    pub styles: Option<Entry>,
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

/// Reads the central directory for the body and styles parts: an archive without
/// `word/document.xml` is a zip, not a Word document.
///
/// # Errors
/// [`Rejected`] when an entry is malformed, a part is there twice, or more entries are present
/// than declared.
pub fn find_parts(directory: &[u8], declared: Directory) -> Result<Parts, Rejected> {
    const SIGNATURE: &[u8] = b"PK\x01\x02";
    const FIXED: usize = 46;
    let mut at = 0;
    let mut parts = Parts::default();
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
        let (part, slot) = match name {
            n if n == BODY_PART.as_bytes() => (Part::Body, &mut parts.body),
            n if n == STYLES_PART.as_bytes() => (Part::Styles, &mut parts.styles),
            _ => {
                at += FIXED + name_len + extra_len + comment_len;
                continue;
            }
        };
        if slot.is_some() {
            return Err(rejected(match part {
                Part::Body => "the archive holds two document bodies",
                Part::Styles => "the archive holds two styles parts",
            }));
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
        *slot = Some(Entry {
            part,
            method: u16_at(entry, 10),
            compressed_size,
            uncompressed_size,
            crc32: u32_at(entry, 16),
            local_header_offset,
        });
        at += FIXED + name_len + extra_len + comment_len;
    }
    Ok(parts)
}

/// Where a part's compressed bytes start, from its local header (the first
/// [`LOCAL_HEADER_BYTES`] at [`Entry::local_header_offset`]).
///
/// # Errors
/// [`Rejected`] when the header is missing or malformed.
pub fn data_start(local_header: &[u8], entry: &Entry) -> Result<u64, Rejected> {
    if local_header.len() < 30 || !local_header.starts_with(b"PK\x03\x04") {
        return Err(rejected(format!(
            "{}'s local header is corrupt",
            entry.part.noun()
        )));
    }
    let name_len = u64::from(u16_at(local_header, 26));
    let extra_len = u64::from(u16_at(local_header, 28));
    Ok(entry.local_header_offset + LOCAL_HEADER_BYTES + name_len + extra_len)
}

impl Entry {
    /// The range of the part's local header, `(offset, length)`, to read first.
    ///
    /// # Errors
    /// [`Rejected`] when it lies outside an archive of `archive_size` bytes.
    pub fn header_range(&self, archive_size: u64) -> Result<(u64, u64), Rejected> {
        self.within(self.local_header_offset, LOCAL_HEADER_BYTES, archive_size)
    }

    /// The range of the part's compressed bytes, `(offset, length)`, from its local header.
    ///
    /// # Errors
    /// [`Rejected`] when the header is malformed or the bytes lie outside the archive.
    pub fn data_range(
        &self,
        local_header: &[u8],
        archive_size: u64,
    ) -> Result<(u64, u64), Rejected> {
        let start = data_start(local_header, self)?;
        self.within(start, self.compressed_size, archive_size)
    }

    fn within(&self, start: u64, len: u64, archive_size: u64) -> Result<(u64, u64), Rejected> {
        if start.saturating_add(len) > archive_size {
            return Err(rejected(format!(
                "{} lies outside the file",
                self.part.noun()
            )));
        }
        Ok((start, len))
    }
}

/// A part's compressed bytes in, its decompressed bytes out, with the caps enforced as it goes.
struct Inflate {
    entry: Entry,
    inflater: Option<Decompress>,
    buffer: Vec<u8>,
    ended: bool,
    written: u64,
    crc: Crc,
}

impl Inflate {
    /// Checks the entry's declared sizes against the caps before any byte is read.
    fn new(entry: Entry) -> Result<Self, Rejected> {
        let noun = entry.part.noun();
        let inflater = match entry.method {
            0 if entry.compressed_size != entry.uncompressed_size => {
                return Err(rejected(format!("{noun}'s sizes disagree")));
            }
            0 => None,
            8 => Some(Decompress::new(false)),
            other => {
                return Err(rejected(format!(
                    "{noun} uses compression method {other}; only stored and deflated are supported"
                )));
            }
        };
        let max = entry.part.max_bytes();
        let declared = entry.uncompressed_size;
        if declared > max {
            return Err(rejected(format!(
                "{noun} is larger than {} MiB uncompressed",
                max >> 20
            )));
        }
        if declared > RATIO_FLOOR
            && declared > MAX_RATIO.saturating_mul(entry.compressed_size.max(1))
        {
            return Err(rejected(format!(
                "{noun} expands more than {MAX_RATIO}:1 when decompressed (a zip bomb?)"
            )));
        }
        Ok(Self {
            entry,
            buffer: if inflater.is_some() {
                vec![0; INFLATE_CHUNK]
            } else {
                Vec::new()
            },
            inflater,
            ended: false,
            written: 0,
            crc: Crc::new(),
        })
    }

    /// Feeds the next chunk of compressed bytes; `out` gets what they decompress to.
    fn update(&mut self, compressed: &[u8], mut out: impl FnMut(&[u8])) -> Result<(), Rejected> {
        let Some(inflater) = self.inflater.as_mut() else {
            self.written += compressed.len() as u64;
            check_written(self.entry, self.written)?;
            self.crc.update(compressed);
            out(compressed);
            return Ok(());
        };
        let mut input = compressed;
        while !self.ended {
            let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
            let status = inflater
                .decompress(input, &mut self.buffer, FlushDecompress::None)
                .map_err(|_| {
                    rejected(format!(
                        "{} is not valid deflate data",
                        self.entry.part.noun()
                    ))
                })?;
            let consumed = usize::try_from(inflater.total_in() - in_before).unwrap_or(usize::MAX);
            let produced = usize::try_from(inflater.total_out() - out_before).unwrap_or(usize::MAX);
            input = &input[consumed.min(input.len())..];
            self.ended = status == Status::StreamEnd;
            let output = &self.buffer[..produced];
            self.written += produced as u64;
            check_written(self.entry, self.written)?;
            self.crc.update(output);
            out(output);
            let buffer_full = produced == self.buffer.len();
            if (input.is_empty() && !buffer_full) || (consumed == 0 && produced == 0) {
                break;
            }
        }
        Ok(())
    }

    /// Checks that the part was whole: every byte there, and its checksum right.
    fn finish(&self) -> Result<(), Rejected> {
        let noun = self.entry.part.noun();
        if self.inflater.is_some() && !self.ended {
            return Err(rejected(format!("{noun} is truncated")));
        }
        if self.written != self.entry.uncompressed_size {
            return Err(rejected(format!("{noun}'s size does not match its header")));
        }
        if self.crc.sum() != self.entry.crc32 {
            return Err(rejected(format!("{noun} is corrupt (checksum mismatch)")));
        }
        Ok(())
    }
}

fn check_written(entry: Entry, written: u64) -> Result<(), Rejected> {
    // The declared size passed the caps, and the actual one may not exceed it.
    if written > entry.uncompressed_size {
        return Err(rejected(format!(
            "{} is larger than its header says (a zip bomb?); it was stopped after {written} bytes",
            entry.part.noun()
        )));
    }
    Ok(())
}

/// Inflates the body part chunk by chunk and counts its text, enforcing the caps as it goes.
pub struct BodyText {
    inflate: Inflate,
    xml: Xml,
    body: Body,
}

impl std::fmt::Debug for BodyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyText")
            .field("entry", &self.inflate.entry)
            .field("written", &self.inflate.written)
            .finish_non_exhaustive()
    }
}

impl BodyText {
    /// Checks the entry's declared sizes against the caps before any byte is read; `styles`
    /// tells which paragraphs are headings ([`Styles::default`] when the archive has none).
    ///
    /// # Errors
    /// [`Rejected`] for an unsupported compression method or a declared size over a cap.
    pub fn new(entry: Entry, styles: &Styles) -> Result<Self, Rejected> {
        Ok(Self {
            inflate: Inflate::new(entry)?,
            xml: Xml::default(),
            body: Body {
                styles: styles.clone(),
                in_text: false,
                in_properties: false,
                in_change: false,
                kind: BlockKind::Paragraph,
                depth: 0,
                out: Vec::new(),
                counter: TextCounter::for_paragraphs(),
            },
        })
    }

    /// Feeds the next chunk of the entry's compressed bytes, in order.
    ///
    /// # Errors
    /// [`Rejected`] when the data is not valid deflate, or a cap is exceeded.
    pub fn update(&mut self, compressed: &[u8]) -> Result<(), Rejected> {
        self.inflate.update(compressed, |xml| {
            self.xml.feed(xml, &mut self.body);
            self.body.flush();
        })
    }

    /// The text statistics of the whole body, once every compressed byte has been fed.
    ///
    /// # Errors
    /// [`Rejected`] when the data ended early or its checksum does not match.
    pub fn finish(self) -> Result<TextStats, Rejected> {
        self.inflate.finish()?;
        Ok(self.body.counter.finish())
    }
}

/// Which paragraph styles are headings, by their names in `word/styles.xml`: the ids that
/// paragraphs cite are localised ("berschrift1" in a German Word), the names are not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Styles {
    headings: HashMap<Vec<u8>, BlockKind>,
}

impl Styles {
    /// What a paragraph of the style with this id is.
    fn kind(&self, style_id: &[u8]) -> BlockKind {
        self.headings
            .get(style_id)
            .copied()
            .unwrap_or(BlockKind::Paragraph)
    }
}

/// Inflates the styles part chunk by chunk and keeps its heading styles, within the caps.
pub struct StylesText {
    inflate: Inflate,
    xml: Xml,
    sheet: StyleSheet,
}

impl std::fmt::Debug for StylesText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StylesText")
            .field("entry", &self.inflate.entry)
            .field("written", &self.inflate.written)
            .finish_non_exhaustive()
    }
}

impl StylesText {
    /// Checks the entry's declared sizes against the caps before any byte is read.
    ///
    /// # Errors
    /// [`Rejected`] for an unsupported compression method or a declared size over a cap.
    pub fn new(entry: Entry) -> Result<Self, Rejected> {
        Ok(Self {
            inflate: Inflate::new(entry)?,
            xml: Xml::default(),
            sheet: StyleSheet::default(),
        })
    }

    /// Feeds the next chunk of the entry's compressed bytes, in order.
    ///
    /// # Errors
    /// [`Rejected`] when the data is not valid deflate, or a cap is exceeded.
    pub fn update(&mut self, compressed: &[u8]) -> Result<(), Rejected> {
        self.inflate
            .update(compressed, |xml| self.xml.feed(xml, &mut self.sheet))
    }

    /// The heading styles, once every compressed byte has been fed.
    ///
    /// # Errors
    /// [`Rejected`] when the data ended early or its checksum does not match.
    pub fn finish(self) -> Result<Styles, Rejected> {
        self.inflate.finish()?;
        Ok(self.sheet.styles)
    }
}

/// What a streamed XML document tells its reader.
trait Markup {
    /// Whether character data matters now; any other is skipped without being decoded.
    fn wants_text(&self) -> bool;
    /// Character data, entities decoded, in pieces.
    fn text(&mut self, text: &[u8]);
    fn tag(&mut self, tag: &Tag<'_>);
}

/// One tag, as far as [`MAX_TAG_BYTES`] of it were kept.
struct Tag<'a> {
    name: &'a [u8],
    closing: bool,
    self_closing: bool,
    attributes: &'a [u8],
    truncated: bool,
}

impl<'a> Tag<'a> {
    fn parse(tag: &'a [u8], truncated: bool) -> Self {
        let tag = tag.trim_ascii_end();
        let self_closing = tag.ends_with(b"/");
        let (closing, rest) = match tag.strip_prefix(b"/") {
            Some(rest) => (true, rest),
            None => (false, tag),
        };
        let rest = rest.strip_suffix(b"/").unwrap_or(rest);
        let name_end = rest
            .iter()
            .position(u8::is_ascii_whitespace)
            .unwrap_or(rest.len());
        Tag {
            name: &rest[..name_end],
            closing,
            self_closing,
            attributes: &rest[name_end..],
            truncated,
        }
    }

    fn is_bare(&self) -> bool {
        self.attributes.trim_ascii().is_empty()
    }

    /// The raw value of the attribute `name`, if the kept part of the tag holds it whole.
    fn attribute(&self, name: &[u8]) -> Option<&'a [u8]> {
        let mut rest = self.attributes;
        loop {
            let (key, after) = rest.split_at(rest.iter().position(|&b| b == b'=')?);
            let value = after[1..].trim_ascii_start();
            let quote = *value.first().filter(|q| matches!(q, b'"' | b'\''))?;
            let end = value[1..].iter().position(|&b| b == quote)?;
            if key.trim_ascii() == name {
                return Some(&value[1..=end]);
            }
            rest = &value[end + 2..];
        }
    }
}

/// A streaming XML scanner: tags whole (their first [`MAX_TAG_BYTES`]), character data in pieces.
///
/// Comments, CDATA and processing instructions contribute nothing.
#[derive(Debug, Default)]
struct Xml {
    state: XmlState,
    tag: Vec<u8>,
    tag_truncated: bool,
    quote: Option<u8>,
    entity: Vec<u8>,
    /// The last two bytes seen inside a comment or CDATA section, to find its end.
    tail: [u8; 2],
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

impl Xml {
    fn feed(&mut self, mut bytes: &[u8], markup: &mut impl Markup) {
        while let Some(&b) = bytes.first() {
            if self.state == XmlState::Text {
                // Character data up to the next markup goes in one piece.
                let run = bytes
                    .iter()
                    .position(|&b| b == b'<' || b == b'&')
                    .unwrap_or(bytes.len());
                if run > 0 {
                    if markup.wants_text() {
                        markup.text(&bytes[..run]);
                    }
                    bytes = &bytes[run..];
                    continue;
                }
            }
            bytes = &bytes[1..];
            match self.state {
                XmlState::Text if b == b'<' => {
                    self.state = XmlState::Tag;
                    self.tag.clear();
                    self.tag_truncated = false;
                    self.quote = None;
                }
                // `&`: an entity, unless the text around it is skipped anyway.
                XmlState::Text => {
                    if markup.wants_text() {
                        self.state = XmlState::Entity;
                        self.entity.clear();
                    }
                }
                XmlState::Entity => {
                    if b == b';' {
                        self.push_entity(markup);
                        self.state = XmlState::Text;
                    } else if self.entity.len() < MAX_ENTITY_BYTES {
                        self.entity.push(b);
                    } else {
                        markup.text("\u{fffd}".as_bytes());
                        self.state = XmlState::Text;
                    }
                }
                XmlState::Tag => self.tag_byte(b, markup),
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
    }

    fn tag_byte(&mut self, b: u8, markup: &mut impl Markup) {
        match (self.quote, b) {
            (Some(q), _) if b == q => self.quote = None,
            (None, b'"' | b'\'') => self.quote = Some(b),
            (None, b'>') => {
                markup.tag(&Tag::parse(&self.tag, self.tag_truncated));
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

    fn push_entity(&mut self, markup: &mut impl Markup) {
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
        markup.text(
            decoded
                .unwrap_or('\u{fffd}')
                .encode_utf8(&mut utf8)
                .as_bytes(),
        );
    }
}

/// The text of `WordprocessingML`: the contents of `<w:t>` runs, a newline at the end of each
/// paragraph and for each line break, a tab for each run tab; and each paragraph's end, with
/// whether its style makes it a heading.
///
/// Deleted text (`<w:delText>`), field codes, comments, attributes and properties contribute
/// nothing.
struct Body {
    styles: Styles,
    in_text: bool,
    /// Inside the paragraph's `<w:pPr>`, where its style is named.
    in_properties: bool,
    /// Inside `<w:pPrChange>`: the properties before a tracked change, no longer in force.
    in_change: bool,
    kind: BlockKind,
    /// Paragraphs open: a text box's paragraphs sit inside another's run.
    depth: u32,
    /// Text not yet counted.
    out: Vec<u8>,
    counter: TextCounter,
}

impl Body {
    fn flush(&mut self) {
        self.counter.update(&self.out);
        self.out.clear();
    }

    fn end_paragraph(&mut self) {
        self.out.push(b'\n');
        self.flush();
        self.counter.end_paragraph(self.kind);
        self.kind = BlockKind::Paragraph;
    }
}

impl Markup for Body {
    fn wants_text(&self) -> bool {
        self.in_text
    }

    fn text(&mut self, text: &[u8]) {
        self.out.extend_from_slice(text);
    }

    fn tag(&mut self, tag: &Tag<'_>) {
        let opening = !tag.closing && !tag.self_closing;
        match (tag.closing, tag.name) {
            (false, b"w:t") => self.in_text = opening,
            (true, b"w:t") => self.in_text = false,
            (false, b"w:p") if tag.self_closing => self.end_paragraph(),
            (false, b"w:p") => {
                // A paragraph inside another ends the outer one's text so far, which cannot be
                // held aside: memory stays at one paragraph.
                if self.depth > 0 {
                    self.flush();
                    self.counter.end_paragraph(self.kind);
                }
                self.depth = self.depth.saturating_add(1);
                self.kind = BlockKind::Paragraph;
                self.in_properties = false;
                self.in_change = false;
            }
            (true, b"w:p") => {
                self.depth = self.depth.saturating_sub(1);
                self.end_paragraph();
            }
            (false, b"w:pPr") => self.in_properties = opening,
            (true, b"w:pPr") => self.in_properties = false,
            (false, b"w:pPrChange") => self.in_change = opening,
            (true, b"w:pPrChange") => self.in_change = false,
            (false, b"w:pStyle") if self.in_properties && !self.in_change => {
                if let Some(id) = tag.attribute(b"w:val") {
                    self.kind = self.styles.kind(id);
                }
            }
            // A run's tab has no attributes; `<w:tab w:val=… w:pos=…/>` is a tab stop definition.
            (false, b"w:tab") if tag.is_bare() => self.out.push(b'\t'),
            (false, b"w:br" | b"w:cr") => {
                let page_or_column =
                    !tag.truncated && matches!(tag.attribute(b"w:type"), Some(b"page" | b"column"));
                if !page_or_column {
                    self.out.push(b'\n');
                }
            }
            _ => {}
        }
    }
}

/// The heading styles of `word/styles.xml`: each `<w:style w:type="paragraph">` whose
/// `<w:name>` is Title, or heading 1 to heading 9, case aside.
#[derive(Debug, Default)]
struct StyleSheet {
    styles: Styles,
    /// The style being read: its id, and what its name makes it.
    open: Option<(Vec<u8>, BlockKind)>,
}

impl StyleSheet {
    fn kind_named(name: &[u8]) -> BlockKind {
        let name = String::from_utf8_lossy(name.trim_ascii()).to_ascii_lowercase();
        match name.as_str() {
            "title" | "heading 1" | "heading 2" => BlockKind::Chapter,
            "heading 3" | "heading 4" | "heading 5" | "heading 6" | "heading 7" | "heading 8"
            | "heading 9" => BlockKind::Heading,
            _ => BlockKind::Paragraph,
        }
    }
}

impl Markup for StyleSheet {
    fn wants_text(&self) -> bool {
        false
    }

    fn text(&mut self, _: &[u8]) {}

    fn tag(&mut self, tag: &Tag<'_>) {
        match (tag.closing, tag.name) {
            (false, b"w:style") if !tag.self_closing => {
                // Without `w:type` a style is a paragraph style.
                let paragraph = tag.attribute(b"w:type").is_none_or(|t| t == b"paragraph");
                self.open = tag
                    .attribute(b"w:styleId")
                    .filter(|_| paragraph)
                    .map(|id| (id.to_vec(), BlockKind::Paragraph));
            }
            (false, b"w:name") => {
                if let (Some((_, kind)), Some(name)) = (&mut self.open, tag.attribute(b"w:val")) {
                    *kind = Self::kind_named(name);
                }
            }
            (true, b"w:style") => {
                let full = self.styles.headings.len() >= MAX_HEADING_STYLES;
                if let Some((id, kind)) = self.open.take()
                    && kind != BlockKind::Paragraph
                    && !full
                {
                    self.styles.headings.insert(id, kind);
                }
            }
            _ => {}
        }
    }
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

    /// Reads an in-memory archive the way the processor reads S3: by ranges, the styles first.
    fn body_stats(archive: &[u8], chunk: usize) -> Result<Option<TextStats>, Rejected> {
        let range = |(start, len): (u64, u64)| {
            archive
                .get(start as usize..(start + len) as usize)
                .ok_or_else(|| rejected("out of range"))
        };
        let size = archive.len() as u64;
        let tail = range((size.saturating_sub(TAIL_BYTES), size.min(TAIL_BYTES)))?;
        let directory = locate_directory(tail, size)?;
        let parts = find_parts(range((directory.offset, directory.size))?, directory)?;
        let Some(body) = parts.body else {
            return Ok(None);
        };
        let styles = match parts.styles {
            Some(entry) => {
                let header = range(entry.header_range(size)?)?;
                let mut styles = StylesText::new(entry)?;
                for piece in range(entry.data_range(header, size)?)?.chunks(chunk.max(1)) {
                    styles.update(piece)?;
                }
                styles.finish()?
            }
            None => Styles::default(),
        };
        let header = range(body.header_range(size)?)?;
        let mut text = BodyText::new(body, &styles)?;
        for piece in range(body.data_range(header, size)?)?.chunks(chunk.max(1)) {
            text.update(piece)?;
        }
        text.finish().map(Some)
    }

    fn document(paragraphs: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{paragraphs}<w:sectPr/></w:body></w:document>"#
        )
    }

    fn styles_xml(styles: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:latentStyles><w:lsdException w:name="heading 1" w:uiPriority="9"/></w:latentStyles>{styles}</w:styles>"#
        )
    }

    fn body(styles: &Styles) -> Body {
        Body {
            styles: styles.clone(),
            in_text: false,
            in_properties: false,
            in_change: false,
            kind: BlockKind::Paragraph,
            depth: 0,
            out: Vec::new(),
            counter: TextCounter::for_paragraphs(),
        }
    }

    /// The body's figures, its XML fed in pieces of `cut` bytes.
    fn text_in_pieces(xml: &str, styles: &Styles, cut: usize) -> TextStats {
        let mut scanner = Xml::default();
        let mut body = body(styles);
        for piece in xml.as_bytes().chunks(cut.max(1)) {
            scanner.feed(piece, &mut body);
            body.flush();
        }
        body.counter.finish()
    }

    fn text_of(xml: &str) -> TextStats {
        text_in_pieces(xml, &Styles::default(), usize::MAX)
    }

    fn styles_of(xml: &str) -> Styles {
        let mut scanner = Xml::default();
        let mut sheet = StyleSheet::default();
        scanner.feed(xml.as_bytes(), &mut sheet);
        sheet.styles
    }

    /// Styles whose ids are German, as a German Word writes them.
    fn german_styles() -> Styles {
        styles_of(&styles_xml(concat!(
            r#"<w:style w:type="paragraph" w:default="1" w:styleId="Standard"><w:name w:val="Normal"/></w:style>"#,
            r#"<w:style w:type="paragraph" w:styleId="Titel"><w:name w:val="Title"/><w:basedOn w:val="Standard"/></w:style>"#,
            r#"<w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/><w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style>"#,
            r#"<w:style w:type="paragraph" w:styleId="berschrift3"><w:name w:val="Heading 3"/></w:style>"#,
            r#"<w:style w:type="character" w:styleId="berschrift1Zchn"><w:name w:val="heading 1"/></w:style>"#,
            r#"<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="Body of the letter"/></w:style>"#,
        )))
    }

    fn paragraph(style: Option<&str>, text: &str) -> String {
        let properties = style.map_or_else(String::new, |s| {
            format!(r#"<w:pPr><w:pStyle w:val="{s}"/></w:pPr>"#)
        });
        format!("<w:p>{properties}<w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r></w:p>")
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
        // Words: Chapter One | It was a dark and stormy night | Q A 1 end = 2 + 7 + 4: UAX #29
        // splits "Q&A" at the ampersand.
        assert_eq!(stats.words, 13);
        assert_eq!(stats.lines, 5, "four paragraphs and one line break");
        let text = "Chapter One\nIt was a dark\tand stormy night.\nQ&A <1>\nend\n\n";
        assert_eq!(stats.characters, text.chars().count() as u64);
        assert_eq!(
            (stats.paragraphs, stats.sentences),
            (3, 3),
            "the empty one is none"
        );
        assert_eq!(stats.chapters.len(), 1, "no styles, so no headings");
    }

    #[test]
    fn a_greater_than_sign_inside_an_attribute_does_not_end_the_tag() {
        let stats = text_of(r#"<w:p><w:r w:x="a>b"><w:t>one two</w:t></w:r></w:p>"#);
        assert_eq!((stats.words, stats.characters), (2, 8));
    }

    #[test]
    fn heading_styles_are_known_by_their_names_not_their_ids() {
        let styles = german_styles();
        assert_eq!(styles.kind(b"Titel"), BlockKind::Chapter);
        assert_eq!(styles.kind(b"berschrift1"), BlockKind::Chapter);
        assert_eq!(styles.kind(b"berschrift3"), BlockKind::Heading);
        assert_eq!(styles.kind(b"Standard"), BlockKind::Paragraph);
        assert_eq!(
            styles.kind(b"Heading1"),
            BlockKind::Paragraph,
            "its name is not a heading's"
        );
        assert_eq!(
            styles.kind(b"berschrift1Zchn"),
            BlockKind::Paragraph,
            "a character style"
        );
    }

    #[test]
    fn headings_start_chapters_and_are_not_paragraphs() {
        let xml = document(
            &[
                paragraph(None, "A note before."),
                paragraph(Some("Titel"), "The   Book"),
                paragraph(Some("berschrift1"), "Chapter One"),
                paragraph(None, "It rained. It poured."),
                paragraph(Some("berschrift3"), "A scene"),
                paragraph(Some("Heading1"), "Not a heading."),
            ]
            .concat(),
        );
        let stats = text_in_pieces(&xml, &german_styles(), usize::MAX);
        let chapters: Vec<_> = stats
            .chapters
            .iter()
            .map(|c| (c.title.as_deref(), c.words))
            .collect();
        assert_eq!(
            chapters,
            [
                (None, 3),
                (Some("The Book"), 2),
                (Some("Chapter One"), 2 + 4 + 2 + 3)
            ]
        );
        assert_eq!(stats.words, 16);
        assert_eq!((stats.paragraphs, stats.sentences), (3, 4));
        assert_eq!(
            stats.average_sentence_words,
            Some(2.5),
            "10 words in 4 sentences"
        );
    }

    #[test]
    fn a_tracked_change_of_style_is_not_the_style_in_force() {
        let xml = concat!(
            r#"<w:p><w:pPr><w:pStyle w:val="Standard"/><w:pPrChange w:id="1"><w:pPr><w:pStyle w:val="berschrift1"/></w:pPr></w:pPrChange></w:pPr>"#,
            r#"<w:r><w:t>Once a heading</w:t></w:r></w:p>"#,
        );
        let stats = text_in_pieces(xml, &german_styles(), usize::MAX);
        assert_eq!(stats.chapters.len(), 1);
        assert_eq!(stats.chapters[0].title, None);
        assert_eq!(stats.paragraphs, 1);
    }

    #[test]
    fn a_deflated_docx_is_read_by_ranges() {
        let xml = document(
            &[
                paragraph(Some("berschrift1"), "Eins"),
                paragraph(None, "The end of the beginning"),
            ]
            .concat(),
        );
        let styles = styles_xml(
            r#"<w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/></w:style>"#,
        );
        let archive = testing::zip(&[
            ("[Content_Types].xml", b"<Types/>", true),
            (BODY_PART, xml.as_bytes(), true),
            (STYLES_PART, styles.as_bytes(), true),
        ]);
        for chunk in [1, 7, 4096] {
            let stats = body_stats(&archive, chunk)
                .expect("readable")
                .expect("a body");
            assert_eq!((stats.lines, stats.words), (2, 6), "chunk {chunk}");
            assert_eq!(stats.chapters[0].title.as_deref(), Some("Eins"));
        }
    }

    #[test]
    fn without_a_styles_part_no_paragraph_is_a_heading() {
        let xml = document(&paragraph(Some("Heading1"), "Chapter One"));
        let archive = testing::zip(&[(BODY_PART, xml.as_bytes(), true)]);
        let stats = body_stats(&archive, 64).expect("readable").expect("a body");
        assert_eq!(stats.chapters[0].title, None);
        assert_eq!(stats.paragraphs, 1);
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
    fn corrupted_styles_fail_their_checksum_too() {
        let xml = document(r#"<w:p><w:r><w:t>abc</w:t></w:r></w:p>"#);
        let mut archive = testing::zip(&[
            (BODY_PART, xml.as_bytes(), true),
            (STYLES_PART, b"<w:styles>xyz</w:styles>", false),
        ]);
        let at = archive
            .windows(3)
            .position(|w| w == b"xyz")
            .expect("stored as is");
        archive[at] = b'q';
        let error = body_stats(&archive, 64).expect_err("corrupt");
        assert_eq!(error.0, "the styles part is corrupt (checksum mismatch)");
    }

    #[test]
    fn a_zip_bomb_is_stopped_by_the_ratio_cap() {
        // 8 MiB of one repeated byte deflates to about 8 KiB: a thousand to one.
        let padding = vec![b' '; 8 << 20];
        let archive = testing::zip(&[(BODY_PART, &padding, true)]);
        let error = body_stats(&archive, 4096).expect_err("a bomb");
        assert!(error.0.contains("100:1"), "{error}");
        let archive = testing::zip(&[(BODY_PART, b"<w:p/>", true), (STYLES_PART, &padding, true)]);
        let error = body_stats(&archive, 4096).expect_err("a bomb");
        assert!(error.0.starts_with("the styles part"), "{error}");
    }

    #[test]
    fn declared_sizes_over_the_caps_are_refused_before_reading() {
        let entry = Entry {
            part: Part::Body,
            method: 8,
            compressed_size: 10 << 20,
            uncompressed_size: MAX_BODY_BYTES + 1,
            crc32: 0,
            local_header_offset: 0,
        };
        assert!(BodyText::new(entry, &Styles::default()).is_err());
        assert!(
            BodyText::new(
                Entry {
                    method: 12,
                    ..entry
                },
                &Styles::default()
            )
            .is_err(),
            "bzip2 is not read"
        );
        let styles = Entry {
            part: Part::Styles,
            uncompressed_size: MAX_STYLES_BYTES + 1,
            ..entry
        };
        let error = StylesText::new(styles).expect_err("too large");
        assert_eq!(error.0, "the styles part is larger than 4 MiB uncompressed");
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
    fn parts_outside_the_file_are_refused() {
        let entry = Entry {
            part: Part::Styles,
            method: 0,
            compressed_size: 10,
            uncompressed_size: 10,
            crc32: 0,
            local_header_offset: 95,
        };
        assert_eq!(entry.header_range(200), Ok((95, LOCAL_HEADER_BYTES)));
        let error = entry.header_range(100).expect_err("outside");
        assert_eq!(error.0, "the styles part lies outside the file");
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

    #[test]
    fn the_german_fixture_has_its_hand_counted_figures() {
        let archive = include_bytes!("../../../tests/fixtures/manuskript.docx");
        let stats = body_stats(archive, 1000)
            .expect("readable")
            .expect("a body");
        let chapters: Vec<_> = stats
            .chapters
            .iter()
            .map(|c| (c.title.as_deref(), c.words))
            .collect();
        assert_eq!(
            chapters,
            [
                (Some("Der Sturm"), 2 + 4),
                (Some("Erstes Kapitel"), 2 + 10),
                (Some("Zweites Kapitel"), 2 + 8 + 4 + 2),
            ]
        );
        assert_eq!((stats.lines, stats.words, stats.characters), (10, 34, 209));
        assert_eq!((stats.paragraphs, stats.sentences), (4, 7));
        assert_eq!(
            stats.average_sentence_words,
            Some(3.7),
            "26 words in 7 sentences"
        );
    }

    #[test]
    fn the_english_fixture_has_no_heading_styles_without_a_styles_part() {
        let archive = include_bytes!("../../../tests/fixtures/manuscript.docx");
        let stats = body_stats(archive, 1000)
            .expect("readable")
            .expect("a body");
        assert_eq!((stats.lines, stats.words, stats.characters), (6, 24, 123));
        assert_eq!(stats.chapters.len(), 1);
        assert_eq!(stats.chapters[0].title, None);
        assert_eq!((stats.paragraphs, stats.sentences), (4, 4));
    }

    proptest! {
        #[test]
        fn chunking_never_changes_the_text(words in proptest::collection::vec("[a-zA-Z&<>é]{1,8}", 0..40), heading in any::<bool>(), cut in 1usize..50) {
            let escaped: Vec<String> = words.iter().map(|w| w.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")).collect();
            let style = heading.then_some("berschrift1");
            let xml = document(&[paragraph(style, &escaped.join(" ")), paragraph(None, "Last words.")].concat());
            let styles = german_styles();
            let whole = text_in_pieces(&xml, &styles, usize::MAX);
            prop_assert_eq!(text_in_pieces(&xml, &styles, cut), whole.clone());
            let mut plain = TextCounter::default();
            plain.update(format!("{}\n", words.join(" ")).as_bytes());
            prop_assert_eq!(whole.words, plain.finish().words + 2);
        }

        #[test]
        fn any_bytes_as_an_archive_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = body_stats(&bytes, 16);
            let mut archive = testing::zip(&[(BODY_PART, b"<w:p><w:r><w:t>x</w:t></w:r></w:p>", true), (STYLES_PART, b"<w:styles/>", true)]);
            let at = bytes.len() % archive.len();
            archive[at] ^= bytes.first().copied().unwrap_or(1);
            let _ = body_stats(&archive, 16);
        }

        #[test]
        fn any_styles_xml_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut scanner = Xml::default();
            let mut sheet = StyleSheet::default();
            scanner.feed(&bytes, &mut sheet);
            let mut body = body(&sheet.styles);
            scanner.feed(&bytes, &mut body);
            body.flush();
            let _ = body.counter.finish();
        }
    }
}
