//! Slovak.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, OUTLOOK, THUNDERBIRD};

/// Slovak.
pub const SK: Language = Language {
    code: "sk",
    verbs: &[r"napísal\(a\)", "napísal", "napísala"],
    leads: &["dňa"],
    verbs_on: &[r"napísal\(a\)\s+dňa\s"],
    openers: &[],
    separators: &["pôvodná správa", "preposlaná správa"],
    forward_sentences: &[],
    header_labels: &["od", "odoslané", "komu", "predmet", "dátum", "kópia"],
    signoffs: &[r"odoslané\s+z\s+"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "po 1. 1. 2024 o 10:00 Ján Novák <jan@example.sk> napísal(a):",
            source: GMAIL,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "Dňa 1. 1. 2024 o 10:00 Ján Novák napísal(a):",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Od: Ján Novák <jan@example.sk>\nOdoslané: pondelok 1. januára 2024 10:00\nKomu: Eva Horváthová <eva@example.sk>\nPredmet: Rozpis",
            source: OUTLOOK,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Pôvodná správa --------",
            source: THUNDERBIRD,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Odoslané z iPhonu",
            source: APPLE,
        },
    ],
};
