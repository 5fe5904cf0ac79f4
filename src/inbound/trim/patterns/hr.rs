//! Croatian.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, OUTLOOK, THUNDERBIRD};

/// Croatian.
pub const HR: Language = Language {
    code: "hr",
    verbs: &[r"je\s+napisao/la", r"je\s+napisao", r"napisao\s+je", r"napisala\s+je"],
    leads: &["dana", "u"],
    verbs_on: &[r"napisao\s+je\s"],
    openers: &[],
    separators: &["izvorna poruka", "proslijeđena poruka"],
    forward_sentences: &[],
    header_labels: &["šalje", "poslano", "prima", "predmet", "datum", "kopija"],
    signoffs: &[r"poslano\s+(?:s|sa|iz|sa\s+mog|s\s+mog)\s+"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "pon, 1. sij 2024. u 10:00 Ivan Horvat <ivan@example.hr> napisao je:",
            source: GMAIL,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "1.1.2024. u 10:00, Ivan Horvat je napisao/la:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Šalje: Ivan Horvat <ivan@example.hr>\nPoslano: ponedjeljak, 1. siječnja 2024. 10:00\nPrima: Ana Kovač <ana@example.hr>\nPredmet: Raspored",
            source: OUTLOOK,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Izvorna poruka --------",
            source: THUNDERBIRD,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Poslano s mog iPhonea",
            source: APPLE,
        },
    ],
};
