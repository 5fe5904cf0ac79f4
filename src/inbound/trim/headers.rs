//! Recognises the lines mail clients write above a quoted message: attributions ("On … wrote:",
//! "Le … a écrit :", "Am … schrieb …:", "… написал:", "在 … 写道："), forward/original-message
//! markers ("-----Original Message-----", "Begin forwarded message:") and the labels of
//! Outlook-style header blocks ("From:/Sent:/To:/Subject:", "Von:/Gesendet:", "Van:/Verzonden:").
//!
//! Attributions are often wrapped by the client over two to five lines; [`find_attribution`] tries
//! the joined lines. Everything here is pure string matching.

use regex::Regex;

use std::sync::LazyLock;

use super::local_regex::LocalRegex;
use super::patterns::{self, Endings, FirstChars};

use super::ascii;

/// Verbs ending an attribution ("wrote", "napisał(a)", "写道"), every language's.
fn verbs() -> String {
    patterns::alternation(|l| l.verbs)
}

/// Words opening an attribution ("On <date>, <name> wrote:"), every language's.
fn leads() -> String {
    patterns::alternation(|l| l.leads)
}

/// Compiles one of this module's patterns (built from the tables, so tested by them).
fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("trim pattern: {e}"))
}

/// Any attribution verb anywhere in the text: every verb-based attribution pattern below needs
/// one, so this cheap unanchored search (a literal prefilter) rules most lines out before the
/// costly anchored patterns run.
static ANY_VERB: LocalRegex = LocalRegex::new(|| compile(&format!(r"(?i)(?:{})", verbs())));

/// An attribution verb ending the text (see [`may_end_attribution`]).
static ENDS_WITH_VERB: LocalRegex = LocalRegex::new(|| compile(&format!(r"(?i)(?:{})$", verbs())));

/// Attribution opened by a lead word; the verb ends the line, or is followed by a name and a colon.
static LEAD_ATTRIBUTION: LocalRegex = LocalRegex::new(|| {
    compile(&format!(
        r"(?i)^(?:{})\s.{{0,300}}?(?:{})(?:\s*[:：]?|\s.{{0,160}}[:：])$",
        leads(),
        verbs()
    ))
});

/// Chinese attribution opened by 在 ("在 2016年12月12日，… 写道：").
static CJK_ATTRIBUTION: LocalRegex =
    LocalRegex::new(|| compile(r"^在.{1,250}(?:写道|寫道)\s*[:：]?$"));

/// Chinese name, then 於/于 and a date ("王小明 於 2024/1/1 10:00 寫道:").
static CJK_NAME_DATE: LocalRegex =
    LocalRegex::new(|| compile(r"^\S.{0,60}?\s(?:於|于|在)\s*\d.{0,120}?(?:写道|寫道)\s*[:：]$"));

/// Attribution starting with a date ("20 окт. 2016 г. 19:37 пользователь … написал:").
static DATE_ATTRIBUTION: LocalRegex = LocalRegex::new(|| {
    compile(&format!(
        r"(?i)^(?:\p{{L}}+\.?,?\s+){{0,2}}\d.{{0,250}}?(?:{})(?:\s*[:：]|\s.{{0,160}}[:：])$",
        verbs()
    ))
});

/// A date followed by a name and an address ("2013/7/20 sam <info@example.org>",
/// "Thu, 26 Jun 2014 14:00:51 +0400 от Alexander L <abc@example.com>:").
static DATE_NAME_ADDRESS: LocalRegex = LocalRegex::new(|| {
    compile(r"(?i)^(?:\p{L}+\.?,?\s+){0,2}\d.{0,200}<(?:mailto:)?[^<>@\s]+@[^<>\s]+>\s*([:：]?)$")
});

/// Gmail's old ISO form: "2016-03-03 17:21 GMT+01:00 Some One".
static ISO_DATE_NAME: LocalRegex =
    LocalRegex::new(|| compile(r"^\d{4}-\d{2}-\d{2} \d{1,2}:\d{2} GMT[+-]\d{1,2}:\d{2} \S.*$"));

/// "Some One <someone@example.org> wrote:", also with the date after the address or in
/// brackets after the verb ("… <a@b>, 1 Oca 2024 Pzt, 10:00 tarihinde şunu yazdı:",
/// "… <a@b> ezt írta (időpont: 2024. jan. 1., H, 10:00):").
static NAME_ADDRESS_WROTE: LocalRegex = LocalRegex::new(|| {
    compile(&format!(
        r"(?i)^.{{0,160}}?[\w.+-]+@[\w-]+(?:\.[\w-]+)+.{{0,60}}?(?:{})(?:\s*\([^()]{{0,80}}\))?\s*[:：]?$",
        verbs()
    ))
});

/// "someone via Some Forum wrote:".
static VIA_WROTE: LocalRegex = LocalRegex::new(|| {
    compile(&format!(
        r"(?i)^.{{1,100}}\svia\s.{{1,150}}\s(?:{})\s*[:：]?$",
        verbs()
    ))
});

/// "Max <max@example.org> schrieb am Fr., 28. Apr. 2017 um 11:53 Uhr:".
static NAME_WROTE_ON_DATE: LocalRegex = LocalRegex::new(|| {
    compile(&format!(
        r"(?i)^.{{1,160}}?\b(?:{}).{{1,160}}[:：]$",
        patterns::alternation(|l| l.verbs_on)
    ))
});

/// An attribution opened by a phrase instead of closed by a verb ("Wiadomość napisana przez …
/// w dniu 01.01.2024, o godz. 10:00:").
static OPENER_ATTRIBUTION: LocalRegex = LocalRegex::new(|| {
    compile(&format!(
        r"(?i)^(?:{})\s.{{0,300}}\d.{{0,200}}[:：]$",
        patterns::alternation(|l| l.openers)
    ))
});

/// First letters of the opening phrases of [`OPENER_ATTRIBUTION`].
static OPENER_FIRSTS: LazyLock<FirstChars> =
    LazyLock::new(|| FirstChars::new(patterns::words(|l| l.openers)));

/// A bare "Some Name wrote:" (only an attribution when a quote follows).
static NAME_WROTE: LocalRegex = LocalRegex::new(|| {
    compile(&format!(
        r#"(?i)^[\p{{L}}\p{{M}} .'"()-]{{1,60}}\s(?:{})\s*[:：]$"#,
        verbs()
    ))
});

/// Forward / original-message separators written between dashes.
static DASHED_FORWARD: LocalRegex = LocalRegex::new(|| {
    compile(&format!(
        r"(?i)^[\s>*_]*-{{2,}}\s*(?:{})\s*-{{2,}}[\s*_]*$",
        patterns::alternation(|l| l.separators)
    ))
});

/// Forward markers written as a sentence.
static SENTENCE_FORWARD: LocalRegex = LocalRegex::new(|| {
    compile(&format!(
        r"(?i)^[\s>*]*(?:{})\s*[:：]?\s*$",
        patterns::alternation(|l| l.forward_sentences)
    ))
});

/// First letters of the sentences of [`SENTENCE_FORWARD`].
static SENTENCE_FORWARD_FIRSTS: LazyLock<FirstChars> =
    LazyLock::new(|| FirstChars::new(patterns::words(|l| l.forward_sentences)));

/// A header label of an Outlook-style block, with a value after it.
static HEADER_LABEL: LocalRegex = LocalRegex::new(|| {
    compile(&format!(
        r"(?i)^[\s*]*(?:{})[\s*]*[:：][\s*]*\S",
        patterns::alternation(|l| l.header_labels)
    ))
});

/// First-line shape of a date-first attribution: up to two words, then a digit.
static DATE_START: LocalRegex = LocalRegex::new(|| compile(r"^(?:\p{L}+\.?,?\s+){0,2}\d"));

/// Groups of digits (dates, times).
static DIGIT_GROUP: LocalRegex = LocalRegex::new(|| compile(r"\d+"));

/// Lead word at the start of a line (cheap pre-check before joining lines).
static LEAD_START: LocalRegex =
    LocalRegex::new(|| compile(&format!(r"(?i)^(?:{})\s|^在", leads())));

/// Bytes from the start of a header line (after blanks and `*`) within which its colon must
/// come: the longest label, with room for blanks and `*` around it.
pub const MAX_LABEL_BYTES: usize = 48;

/// Longest attribution considered, in characters.
const MAX_ATTRIBUTION_CHARS: usize = 400;
/// Most lines an attribution may be wrapped over (blank lines included).
const MAX_ATTRIBUTION_LINES: usize = 6;

/// How sure we are that a line is an attribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strength {
    /// Has a date or an address: an attribution wherever it stands.
    Strong,
    /// A bare "Name wrote:": an attribution only when a quote follows.
    Weak,
}

/// An attribution found at some line: how many lines it spans and how sure we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribution {
    /// Number of source lines the attribution covers (1 when not wrapped).
    pub lines: usize,
    /// Strength of the match.
    pub strength: Strength,
}

/// Removes quoting and decoration around a candidate line ("---- On … wrote ----", "> On …").
fn clean(line: &str) -> &str {
    line.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '>' | '-' | '<' | '*'))
        .trim_end_matches(|c: char| c.is_whitespace() || matches!(c, '-' | '*'))
}

/// True when `s` (already cleaned, one logical line) is an attribution; `first` is the first
/// physical line of it, used to check the shape of date-first forms.
fn is_attribution_text(s: &str, first: &str) -> Option<Strength> {
    if s.is_empty()
        || (s.len() > MAX_ATTRIBUTION_CHARS && s.chars().count() > MAX_ATTRIBUTION_CHARS)
        || !may_end_attribution(s)
    {
        return None;
    }
    // Prefilters: each pattern runs only on text holding what it cannot match without.
    let has_digit = s.bytes().any(|b| b.is_ascii_digit());
    let has_verb = ANY_VERB.is_match(s);
    if has_digit
        && has_verb
        && (LEAD_ATTRIBUTION.is_match(s)
            || CJK_ATTRIBUTION.is_match(s)
            || CJK_NAME_DATE.is_match(s))
    {
        return Some(Strength::Strong);
    }
    if has_digit && OPENER_FIRSTS.may_match(s) && OPENER_ATTRIBUTION.is_match(s) {
        return Some(Strength::Strong);
    }
    if has_digit
        && DATE_START.is_match(first)
        && DIGIT_GROUP.with(|r| r.find_iter(s).take(2).count()) >= 2
    {
        if has_verb && DATE_ATTRIBUTION.is_match(s) {
            return Some(Strength::Strong);
        }
        if let Some(c) = s
            .contains('@')
            .then(|| DATE_NAME_ADDRESS.with(|r| r.captures(s)))
            .flatten()
        {
            let colon = c.get(1).is_some_and(|m| !m.as_str().is_empty());
            let iso_start = s.len() >= 4 && s.as_bytes()[..4].iter().all(u8::is_ascii_digit);
            let has_year = s.split(|c: char| !c.is_ascii_digit()).any(|g| g.len() == 4);
            if has_year && (colon || iso_start) {
                return Some(Strength::Strong);
            }
        }
    }
    if s.contains(" GMT") && ISO_DATE_NAME.is_match(s) {
        return Some(Strength::Strong);
    }
    if !has_verb {
        return None;
    }
    if (first.contains('@') || first.contains('<')) && NAME_ADDRESS_WROTE.is_match(s) {
        return Some(Strength::Strong);
    }
    if VIA_WROTE.is_match(s) {
        return Some(Strength::Strong);
    }
    if has_digit && NAME_WROTE_ON_DATE.is_match(s) {
        return Some(Strength::Strong);
    }
    if NAME_WROTE.is_match(s) {
        return Some(Strength::Weak);
    }
    None
}

/// True when `s` ends the way every pattern of [`is_attribution_text`] needs it to: with a
/// colon, an address's `>`, or an attribution verb; or starts with a digit (the one form that
/// ends with a name: "2016-03-03 17:21 GMT+01:00 Some One"). Most lines of prose end otherwise,
/// and are ruled out here before any of the patterns runs.
fn may_end_attribution(s: &str) -> bool {
    s.ends_with([':', '：', '>'])
        || s.as_bytes().first().is_some_and(u8::is_ascii_digit)
        || (VERB_ENDINGS.may_end(s) && ENDS_WITH_VERB.is_match(s))
}

/// The endings of the attribution verbs: a cheap test before [`ENDS_WITH_VERB`].
static VERB_ENDINGS: LazyLock<Endings> =
    LazyLock::new(|| Endings::new(patterns::words(|l| l.verbs)));

/// True when a line ends like a sentence (so an attribution cannot continue past it):
/// a colon, or `.`/`!`/`?` after a word longer than an abbreviation ("Fr.", "janv.").
fn ends_sentence(line: &str) -> bool {
    let t = line.trim_end();
    if t.ends_with([':', '：', '。']) {
        return true;
    }
    let Some(body) = t.strip_suffix(['.', '!', '?']) else {
        return false;
    };
    let word: String = body
        .chars()
        .rev()
        .take_while(|c| c.is_alphabetic())
        .collect();
    word.chars().count() > 4
}

/// Looks for an attribution starting at `lines[start]`, possibly wrapped over the following
/// lines. `lines` are unquoted source lines (the caller passes a window).
pub fn find_attribution(lines: &[&str], start: usize) -> Option<Attribution> {
    let first_raw = *lines.get(start)?;
    let first = clean(first_raw);
    if first.is_empty() {
        return None;
    }
    if let Some(strength) = is_attribution_text(first, first) {
        return Some(Attribution { lines: 1, strength });
    }
    // Wrapped forms: only from a line that can open one, and never ending a sentence.
    let opens = LEAD_START.is_match(first)
        || DATE_START.is_match(first)
        || first.contains('@')
        || first.contains('<')
        || [" via ", "schrieb am", "wrote on"]
            .iter()
            .any(|w| ascii::contains_ignore_case(first, w));
    if !opens || ends_sentence(first) {
        return None;
    }
    // Only an opening lead word ("On", "Le", …) may wrap across blank lines (some clients
    // break "On <date> <name>\n\n<address>\n> wrote:" that way).
    let across_blanks = LEAD_START.is_match(first);
    let mut joined = first.to_string();
    for (offset, next) in lines
        .iter()
        .enumerate()
        .skip(start + 1)
        .take(MAX_ATTRIBUTION_LINES - 1)
    {
        let part = clean(next);
        if part.is_empty() {
            if across_blanks {
                continue;
            }
            return None;
        }
        if LEAD_START.is_match(part) {
            // The attribution starts on a later line.
            return None;
        }
        // An address broken after its "<" joins without a blank ("<\nann@example.org>").
        if !joined.ends_with('<') {
            joined.push(' ');
        }
        joined.push_str(part);
        if joined.len() > MAX_ATTRIBUTION_CHARS && joined.chars().count() > MAX_ATTRIBUTION_CHARS {
            return None;
        }
        if let Some(strength) = is_attribution_text(&joined, first) {
            return Some(Attribution {
                lines: offset - start + 1,
                strength,
            });
        }
        if ends_sentence(part) {
            return None;
        }
    }
    None
}

/// True for a forward or original-message marker ("-----Original Message-----",
/// "---------- Forwarded message ---------", "Begin forwarded message:").
pub fn is_forward_marker(line: &str) -> bool {
    let t = line.trim();
    if t.is_empty() || t.len() > 200 {
        return false;
    }
    (t.contains("--") && DASHED_FORWARD.is_match(t))
        || (opens_forward_sentence(t) && SENTENCE_FORWARD.is_match(t))
}

/// True when `t`, after the marks [`SENTENCE_FORWARD`] allows before it, starts the way one
/// of its sentences does: a cheap test before the pattern.
fn opens_forward_sentence(t: &str) -> bool {
    SENTENCE_FORWARD_FIRSTS
        .may_match(t.trim_start_matches(|c: char| c.is_whitespace() || c == '>' || c == '*'))
}

/// True for one line of an Outlook-style header block ("From: …", "*Sent:* …", "Von: …").
pub fn is_header_label(line: &str) -> bool {
    // Every label is short and ends in a colon (ASCII or full-width) near the start of the
    // line: cheap tests before the pattern, first whether the line has a colon at all (most
    // lines have none), then whether it is near the start.
    // '：' is encoded EF BC 9A: one search finds both colons' candidates.
    if line.len() > 1000 || memchr::memchr2(b':', 0xEF, line.as_bytes()).is_none() {
        return false;
    }
    let t = line.trim_start_matches(|c: char| c.is_whitespace() || c == '*');
    let mut end = t.len().min(MAX_LABEL_BYTES);
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    let head = &t[..end];
    (head.contains(':') || head.contains('：')) && HEADER_LABEL.is_match(line)
}

/// Finds an Outlook-style header block starting at `lines[start]`: at least three header
/// lines, possibly with wrapped values between them. Returns the number of lines it spans
/// (up to the last header line and the wrapped lines directly after it).
pub fn find_header_block(lines: &[&str], start: usize) -> Option<usize> {
    if !lines.get(start).is_some_and(|l| is_header_label(l)) {
        return None;
    }
    let mut labels = 1;
    let mut last_label = start;
    let mut gap = 0;
    let mut i = start + 1;
    while i < lines.len() && i < start + 16 {
        let l = lines[i];
        if is_header_label(l) {
            labels += 1;
            last_label = i;
            gap = 0;
        } else if l.trim().is_empty() {
            break;
        } else {
            gap += 1;
            if gap > 2 {
                break;
            }
        }
        i += 1;
    }
    if labels < 3 {
        return None;
    }
    // Wrapped value of the last header (e.g. a long subject).
    let mut end = last_label + 1;
    while end < lines.len() && end < last_label + 3 && !lines[end].trim().is_empty() {
        end += 1;
    }
    Some(end - start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(text: &str) -> Option<Attribution> {
        let lines: Vec<&str> = text.lines().collect();
        find_attribution(&lines, 0)
    }

    #[test]
    fn english_attributions() {
        assert!(attr("On Tue, 2011-03-01 at 18:02 +0530, Abhishek Kona wrote:").is_some());
        assert!(attr("On Wed, Sep 25, 2013, at 03:57 PM, jorge_castro wrote:").is_some());
        assert!(attr("At 6/16/2016 08:32 PM, you wrote:").is_some());
        assert!(attr("---- On Tue, 22 Dec 2015 14:17:36 +0530 Sam wrote ----").is_some());
        assert!(attr("Some One <info@example.org> wrote:").is_some());
        assert!(attr("On your remote host you can run:").is_none());
        assert!(attr("On this day I wrote something").is_none());
        assert!(attr("2013/7/20 sam via Discourse Meta <info@example.org>").is_some());
        assert!(attr("On your remote host you can run:\n\n     telnet 127.0.0.1 52698\n\nThis should connect to TextMate (on your Mac, via the tunnel). If that\nfails, the tunnel is not working.").is_none());
    }

    #[test]
    fn wrapped_attributions() {
        let a = attr(
            "On Tue, Sep 25, 2012 at 8:59 AM, Chris Wanstrath\n<notifications@github.com>wrote:",
        );
        assert_eq!(a.map(|a| a.lines), Some(2));
        let a = attr("Le 4 janv. 2016 19:03, \"Neil Lalonde\"\n<info@example.org>\na écrit :");
        assert_eq!(a.map(|a| a.lines), Some(3));
        let a = attr("Max <max@example.org> schrieb am Fr., 28.\nApr. 2017 um 11:53 Uhr:");
        assert_eq!(a.map(|a| a.lines), Some(2));
    }

    #[test]
    fn other_languages() {
        for l in [
            "Op 10 dec. 2015 18:35 schreef \"Arpit\" <info@example.org>:",
            "Am 18.09.2013 um 16:24 schrieb codinghorror <info@example.org>:",
            "El jueves, 21 de noviembre de 2013, codinghorror escribió:",
            "Il 26 marzo 2016 alle 13.16 Sam <info@example.org> ha scritto:",
            "Em 2 de fevereiro de 2015 10:58, discourse <info@example.org> escreveu:",
            "Den 15. jun. 2016 kl. 20.42 skrev Jeff <info@example.org>:",
            "Dnia 14 lip 2015 o godz. 00:25 Michael <info@example.org> napisał(a):",
            "понедельник, 6 октября 2014 г. пользователь lidel написал:",
            "30 серп. 2016 р. 20:45 \"Arpit\" <no-reply@example.com> пише:",
            "在 2016年12月12日，下午8:45，Erlend <meta@example.org> 写道：",
            "2016-03-03 17:21 GMT+01:00 Some One",
        ] {
            assert!(attr(l).is_some(), "{l}");
        }
        assert!(attr("In 2019 I wrote:").is_none());
    }

    #[test]
    fn only_lines_ending_like_an_attribution_reach_the_patterns() {
        for l in [
            "On Mon, 2 Mar 2026, Ann wrote",
            "Some One <info@example.org> WROTE",
            "someone via Some Forum wrote:",
            "2013/7/20 sam via Discourse Meta <info@example.org>",
            "Dnia 14 lip 2015 o godz. 00:25 Michael napisał(a)",
            "在 2016年12月12日，Erlend 写道",
            "2016-03-03 17:21 GMT+01:00 Some One",
        ] {
            assert!(may_end_attribution(l), "{l}");
        }
        for l in [
            "Thanks for raising this. I think option 3 is the better one,",
            "because it keeps the budget within limits.",
            "I wrote to them yesterday",
        ] {
            assert!(!may_end_attribution(l), "{l}");
        }
        assert!(attr("John Doe wrote:").is_some_and(|a| a.strength == Strength::Weak));
    }

    #[test]
    fn forward_markers_and_header_blocks() {
        assert!(is_forward_marker("-----Original Message-----"));
        assert!(is_forward_marker("*-------- Original Message --------*"));
        assert!(is_forward_marker("---------- Forwarded message ---------"));
        assert!(is_forward_marker("-----Ursprüngliche Nachricht-----"));
        assert!(is_forward_marker("Begin forwarded message:"));
        assert!(!is_forward_marker("This is not a ---------- delimiter."));
        let block = [
            "Von: A <a@example.org>",
            "Gesendet: Montag",
            "An: B",
            "Betreff: x",
            "",
            "body",
        ];
        assert_eq!(find_header_block(&block, 0), Some(4));
        assert_eq!(find_header_block(&["From: me", "", "hello"], 0), None);
    }
}
