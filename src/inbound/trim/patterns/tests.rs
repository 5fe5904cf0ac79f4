//! Every sample in the tables is recognised as what it is.

use super::super::{headers, marker, signatures};
use super::{FormatKind, LANGUAGES};

#[test]
fn every_sample_is_recognised() {
    let mut misses = Vec::new();
    for language in LANGUAGES {
        for format in language.formats {
            let lines: Vec<&str> = format.sample.split('\n').collect();
            let found = match format.kind {
                FormatKind::Attribution => {
                    headers::find_attribution(&lines, 0).is_some_and(|a| a.lines == lines.len())
                }
                FormatKind::Separator => headers::is_forward_marker(format.sample),
                FormatKind::HeaderBlock => {
                    headers::find_header_block(&lines, 0).is_some_and(|n| n >= lines.len())
                }
                FormatKind::Signoff => signatures::is_signoff(format.sample),
                FormatKind::ReplyAbove => marker::is_reply_above(format.sample),
            };
            if !found {
                misses.push(format!(
                    "{} {} {:?}: {}",
                    language.code, format.client, format.kind, format.sample
                ));
            }
        }
    }
    assert!(misses.is_empty(), "not recognised:\n{}", misses.join("\n"));
}

#[test]
fn every_language_once_with_sourced_samples() {
    let mut codes: Vec<&str> = LANGUAGES.iter().map(|l| l.code).collect();
    codes.sort_unstable();
    let n = codes.len();
    codes.dedup();
    assert_eq!(codes.len(), n, "a language is listed twice");
    for language in LANGUAGES {
        assert!(
            !language.formats.is_empty(),
            "{} has no sample",
            language.code
        );
        for format in language.formats {
            assert!(!format.source.is_empty() && !format.client.is_empty());
        }
    }
}

#[test]
fn every_fragment_compiles_alone() {
    for language in LANGUAGES {
        let fields: [&[&str]; 9] = [
            language.verbs,
            language.leads,
            language.verbs_on,
            language.openers,
            language.separators,
            language.forward_sentences,
            language.header_labels,
            language.signoffs,
            language.reply_above,
        ];
        for fragment in fields.iter().flat_map(|f| f.iter()) {
            assert!(
                regex::Regex::new(fragment).is_ok(),
                "{}: {fragment}",
                language.code
            );
        }
    }
}

#[test]
fn header_labels_fit_the_cheap_test() {
    // `is_header_label` looks for the colon within MAX_LABEL_BYTES of the line's start.
    for label in super::words(|l| l.header_labels) {
        assert!(
            label.len() + 8 <= headers::MAX_LABEL_BYTES,
            "{label} is too long for the colon test"
        );
    }
}
