//! Recognises where a person's signature starts: the `-- ` delimiter, mobile and client
//! sign-offs ("Sent from my iPhone", "Get Outlook for iOS", "Envoyé de mon iPhone", "Von meinem
//! iPhone gesendet", "Verzonden vanaf mijn iPhone", …), a closing "-Name" line, and the usual
//! corporate confidentiality notices. "Sent from my desk, …" (a sentence) is not a sign-off.

use std::sync::LazyLock;

use regex::Regex;

use super::local_regex::LocalRegex;
use super::patterns::{self, FirstChars};

use super::ascii;

/// Words naming a device or mail app, for telling "Sent from my iPhone" from a sentence.
const DEVICE_WORDS: &[&str] = &[
    "iphone",
    "ipad",
    "ipod",
    "android",
    "mobile",
    "phone",
    "cell",
    "cellphone",
    "smartphone",
    "tablet",
    "blackberry",
    "samsung",
    "galaxy",
    "device",
    "htc",
    "nokia",
    "huawei",
    "pixel",
    "xperia",
    "motorola",
    "oneplus",
    "xiaomi",
    "windows",
    "mac",
    "macbook",
    "watch",
    "handheld",
    "kindle",
    "surface",
    "outlook",
    "gmail",
    "mail",
    "app",
];

/// "Sent from/with/via/by X" in English.
static SENT_FROM: LocalRegex = LocalRegex::new(|| {
    Regex::new(r"(?i)^[(<\[]*\s*sent\s+(?:from|via|with|by|using)\s+(.{1,80}?)[\s.!)>\]]*$")
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});

/// Sign-off lines in other forms and languages (every language's table).
static OTHER_SIGNOFFS: LocalRegex = LocalRegex::new(|| {
    Regex::new(&format!(
        r"(?i)^[(<\[]*\s*(?:{})",
        patterns::alternation(|l| l.signoffs)
    ))
    .unwrap_or_else(|e| panic!("trim pattern: {e}"))
});

/// The cheap test before [`OTHER_SIGNOFFS`]: the first letters and endings its sign-offs have.
static OTHER_SIGNOFF_FIRSTS: LazyLock<FirstChars> =
    LazyLock::new(|| FirstChars::new(patterns::words(|l| l.signoffs)));

/// Markdown links `[text](url)` and bracketed URLs `<http…>`, removed before matching.
static LINKS: LocalRegex = LocalRegex::new(|| {
    Regex::new(r"\[([^\]]*)\]\([^)]*\)|<https?://[^>]*>|https?://\S+")
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});

/// Start of a confidentiality notice appended by corporate mail servers.
static DISCLAIMER: LocalRegex = LocalRegex::new(|| {
    Regex::new(r"(?i)^\W*(?:confidentiality\s+notice|disclaimer\s*:|this\s+(?:e-?mail|message|communication)(?:\s+and\s+any\s+(?:attachments?|files?)(?:\s+transmitted\s+with\s+it)?)?\s+(?:is|are|may\s+contain|contains?)\s+(?:strictly\s+)?(?:confidential|privileged|intended\s+(?:only|solely)))")
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});

/// "-Name" closing line (GitHub's convention): a hyphen glued to one to three words.
static DASH_NAME: LocalRegex = LocalRegex::new(|| {
    Regex::new(r"^-\p{L}[\p{L}.'’]*(?:\s\p{L}[\p{L}.'’]*){0,2}\s*$")
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});

/// True for the `-- ` signature delimiter (also written `--` by clients that strip spaces).
pub fn is_signature_delimiter(line: &str) -> bool {
    line.trim_end() == "--"
}

/// True for a mobile or client sign-off line ("Sent from my iPhone").
pub fn is_signoff(line: &str) -> bool {
    let t = line.trim();
    // A line of at most 160 bytes has at most 160 characters: only a longer one is counted.
    if t.is_empty() || (t.len() > 160 && t.chars().count() > 160) {
        return false;
    }
    // Every link form holds a `[` or `http`; most lines have neither.
    let stripped = if t.contains('[') || t.contains("http") {
        LINKS.with(|r| r.replace_all(t, "$1"))
    } else {
        std::borrow::Cow::Borrowed(t)
    };
    let s = stripped.trim();
    if let Some(c) = has_sent(s)
        .then(|| SENT_FROM.with(|r| r.captures(s)))
        .flatten()
    {
        let rest = c.get(1).map_or("", |m| m.as_str()).to_lowercase();
        let words: Vec<&str> = rest.split_whitespace().collect();
        if let Some(after_my) = rest.strip_prefix("my ") {
            let head = after_my.split([',', ';']).next().unwrap_or("");
            let short = !after_my.contains([',', ';']) && words.len() <= 6;
            let device = head
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| DEVICE_WORDS.contains(&w));
            // "Sent from my Wiko RIDGE FAB 4G": a brand name, capitalised, on a short line.
            let brand = c
                .get(1)
                .and_then(|m| m.as_str().get(3..))
                .is_some_and(|name| name.chars().next().is_some_and(char::is_uppercase));
            return device || short && (words.len() <= 4 || brand);
        }
        let device = rest
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| DEVICE_WORDS.contains(&w) || w.ends_with("mail"));
        let capitalised = c
            .get(1)
            .is_some_and(|m| m.as_str().chars().next().is_some_and(char::is_uppercase));
        return words.len() <= 6 && (device || capitalised);
    }
    may_be_other_signoff(s) && OTHER_SIGNOFFS.is_match(s)
}

/// True when `s` could match [`OTHER_SIGNOFFS`]: after the brackets and blanks the pattern
/// allows, it starts with a letter one of the sign-offs starts with, or ends the way one of
/// those that start with any word does ("… from mobile", "…から送信"). A cheap test before the
/// pattern.
fn may_be_other_signoff(s: &str) -> bool {
    OTHER_SIGNOFF_FIRSTS.may_match(s.trim_start_matches(['(', '<', '[']).trim_start())
}

/// True when `s` holds "sent" in any case: [`SENT_FROM`] cannot match without it.
fn has_sent(s: &str) -> bool {
    ascii::contains_ignore_case(s, "sent")
}

/// True for the first line of a confidentiality notice.
pub fn is_disclaimer(line: &str) -> bool {
    // Every notice starts (after non-word characters) with "confidentiality", "disclaimer" or
    // "this": a cheap test before the pattern.
    line.chars()
        .find(|&c| regex_syntax::is_word_character(c))
        .is_some_and(|c| matches!(c.to_ascii_lowercase(), 'c' | 'd' | 't'))
        && DISCLAIMER.is_match(line)
}

/// True for a "-Name" closing line.
pub fn is_dash_name(line: &str) -> bool {
    DASH_NAME.is_match(line.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter() {
        assert!(is_signature_delimiter("-- "));
        assert!(is_signature_delimiter("--"));
        assert!(!is_signature_delimiter(
            "And here is a fix -- this is not a signature."
        ));
    }

    #[test]
    fn signoffs() {
        for l in [
            "Sent from my iPhone",
            "Sent from my BlackBerry",
            "Sent from my Verizon Wireless BlackBerry",
            "Sent from my cell, please excuse any typos.",
            "Sent from Mailbox",
            "Sent from my Wiko RIDGE FAB 4G",
            "Sent via mobile",
            "(Sent from mobile device)",
            "<<sent by galaxy>>",
            "Sent from Outlook Mobile<https://example.org>",
            "Get Outlook for iOS<https://aka.ms/o0ukef>",
            "Get [Outlook for Android](https://aka.ms/ghei36)",
            "Envoyé de mon iPhone",
            "Envoyé depuis mon iPhone",
            "Von meinem iPhone gesendet",
            "Verzonden vanaf mijn iPhone",
            "Verzonden met BlackBerry Work",
            "Sendt fra min iPad",
            "Enviado desde mi iPhone",
            "Enviado do meu iPhone",
            "Inviato da iPhone",
            "從我的 iPhone 傳送",
            "Wysłane z mojego iPhone",
            "Отправлено с iPhone",
        ] {
            assert!(is_signoff(l), "{l}");
        }
        for l in [
            "Sent from my desk, is much easier then my mobile phone.",
            "I sent the report yesterday.",
            "Sent from the office today, more tomorrow",
        ] {
            assert!(!is_signoff(l), "{l}");
        }
    }

    #[test]
    fn dash_name_and_disclaimer() {
        assert!(is_dash_name("-Abhishek Kona"));
        assert!(!is_dash_name("- a bullet item"));
        assert!(!is_dash_name("—Ryan"));
        assert!(is_disclaimer(
            "This email and any attachments are confidential and intended solely for"
        ));
    }
}
