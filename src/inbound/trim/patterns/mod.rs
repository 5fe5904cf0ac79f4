//! The localised words of the trimming rules, as data: one table per language ([`Language`]),
//! each listing the words its mail clients write (attribution verbs and lead words, "original
//! message" separators, Outlook header labels, mobile sign-offs, the "reply above this line"
//! marker) and, in [`Language::formats`], a sample of each client's format with its source.
//!
//! The rules in [`super::headers`] and [`super::signatures`] join these words into their
//! patterns once per process; adding a language is adding a file here and a line to
//! [`LANGUAGES`]. The samples are the tables' own tests: each must be recognised as what it
//! is (see the tests below and `tests/trim_kinds.rs` for whole messages).
//!
//! Words are regular-expression fragments, written in lower case and matched without regard
//! to case; `\s+` stands for any run of blanks.

mod bg;
mod ca;
mod cs;
mod da;
mod de;
mod el;
mod en;
mod es;
mod et;
mod fi;
mod fr;
mod ga;
mod hr;
mod hu;
mod id;
mod it;
mod ja;
mod ko;
mod lt;
mod lv;
mod nl;
mod no;
mod pl;
mod pt;
mod ro;
mod ru;
mod sk;
mod sl;
mod sv;
mod tr;
mod uk;
mod vi;
mod zh;

mod prefilter;

pub use prefilter::{ends_with_one_of, last_chars, Endings, FirstChars};

/// The words one language's mail clients write around a quoted message.
#[derive(Debug)]
pub struct Language {
    /// BCP 47 code (`pl`, `zh`).
    pub code: &'static str,
    /// Verbs ending an attribution ("wrote", "napisał(a)", "写道", "작성").
    pub verbs: &'static [&'static str],
    /// Words opening an "On <date>, <name> wrote:" attribution ("on", "w dniu").
    pub leads: &'static [&'static str],
    /// A verb followed by the word that opens the date ("wrote on", "schrieb am").
    pub verbs_on: &'static [&'static str],
    /// Phrases opening an attribution that ends with a date and a colon, without a verb
    /// ("Wiadomość napisana przez … w dniu …:").
    pub openers: &'static [&'static str],
    /// Phrases a client frames with dashes above a quoted or forwarded message
    /// ("-----Original Message-----", "---------- Forwarded message ---------").
    pub separators: &'static [&'static str],
    /// Forward markers written as a sentence ("Begin forwarded message:").
    pub forward_sentences: &'static [&'static str],
    /// Labels of an Outlook-style header block ("from", "sent", "to", "subject").
    pub header_labels: &'static [&'static str],
    /// Mobile and client sign-offs ("envoyé de mon", "iphone에서 보냄"); English "Sent from …"
    /// is judged by [`super::signatures`] itself.
    pub signoffs: &'static [&'static str],
    /// The "reply above this line" marker texts (without the `##` frame).
    pub reply_above: &'static [&'static str],
    /// Samples of each client's format, with their source.
    pub formats: &'static [Format],
}

/// What a [`Format`] sample is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatKind {
    /// An attribution line (possibly wrapped: lines joined by `\n`).
    Attribution,
    /// A dash-framed separator or a forward sentence.
    Separator,
    /// An Outlook-style header block (lines joined by `\n`).
    HeaderBlock,
    /// A mobile or client sign-off.
    Signoff,
    /// A "reply above this line" marker.
    ReplyAbove,
}

/// A sample of one client's format in one language, with where it comes from.
#[derive(Debug)]
pub struct Format {
    /// The mail client ("Gmail", "Apple Mail", "Outlook", "Thunderbird", …).
    pub client: &'static str,
    /// What the sample is.
    pub kind: FormatKind,
    /// The sample as the client writes it (names and addresses made up).
    pub sample: &'static str,
    /// Where the format comes from.
    pub source: &'static str,
}

/// Source of the Thunderbird samples: its localisation strings.
pub const THUNDERBIRD: &str = "Thunderbird localisation, composeMsgs.properties \
    (mailnews.reply_header_authorwrotesingle / _ondateauthorwrote / _originalmessage), \
    as listed by transvision.mozfr.org";
/// Source of the Gmail samples.
pub const GMAIL: &str = "Gmail web client, plain-text reply attribution in this language \
    (format as Gmail writes it; date, name and address made up)";
/// Source of the Apple Mail / iOS Mail samples.
pub const APPLE: &str = "Apple Mail / iOS Mail, reply attribution and sign-off in this \
    language (format as the client writes it; date, name and address made up)";
/// Source of the Outlook samples.
pub const OUTLOOK: &str = "Microsoft Outlook (desktop, web and mobile), localised reply \
    header block, separator and sign-off (format as the client writes it)";
/// Source of the samples taken from crisp-oss/email-reply-parser (MIT).
pub const CRISP: &str = "crisp-oss/email-reply-parser, lib/regex.ts and test/fixtures (MIT)";
/// Source of the samples taken from alfonsrv/mail-parser-reply (MIT).
pub const MAILPARSER_REPLY: &str =
    "alfonsrv/mail-parser-reply, mailparser_reply/constants.py and test/emails (MIT)";
/// Source of the samples taken from the shared corpora's projects (discourse, github, talon).
pub const CORPORA: &str = "discourse/email_reply_trimmer, github/email_reply_parser, \
    mailgun/talon (MIT, MIT, Apache-2.0)";
/// Source of digestd's own marker.
pub const DIGESTD: &str = "digestd's digests, templates/i18n/<locale>.toml key reply_above";

/// Every language the trimmer knows.
pub const LANGUAGES: &[&Language] = &[
    &en::EN,
    &de::DE,
    &fr::FR,
    &nl::NL,
    &es::ES,
    &ca::CA,
    &it::IT,
    &pt::PT,
    &da::DA,
    &sv::SV,
    &no::NO,
    &fi::FI,
    &et::ET,
    &lv::LV,
    &lt::LT,
    &pl::PL,
    &cs::CS,
    &sk::SK,
    &sl::SL,
    &hr::HR,
    &hu::HU,
    &ro::RO,
    &bg::BG,
    &el::EL,
    &ru::RU,
    &uk::UK,
    &tr::TR,
    &ja::JA,
    &ko::KO,
    &zh::ZH,
    &vi::VI,
    &id::ID,
    &ga::GA,
];

/// The words of one field of every language, as one alternation (`a|b|c`), longest first
/// so that "napisał(a)" is tried before "napisał" where a capture's end matters.
pub fn alternation(field: fn(&Language) -> &'static [&'static str]) -> String {
    let mut words: Vec<&str> = LANGUAGES
        .iter()
        .flat_map(|l| field(l).iter().copied())
        .collect();
    words.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    words.dedup();
    words.join("|")
}

/// Every language's words of one field.
pub fn words(field: fn(&Language) -> &'static [&'static str]) -> Vec<&'static str> {
    LANGUAGES
        .iter()
        .flat_map(|l| field(l).iter().copied())
        .collect()
}

#[cfg(test)]
mod tests;
