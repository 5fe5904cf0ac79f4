//! Czech.

use super::{
    Format, FormatKind::*, Language, APPLE, GMAIL, MAILPARSER_REPLY, OUTLOOK, THUNDERBIRD,
};

/// Czech.
pub const CS: Language = Language {
    code: "cs",
    verbs: &[r"napsal\(a\)", "napsal", "napsala"],
    leads: &["dne"],
    verbs_on: &[r"napsal\(a\)\s+dne\s"],
    openers: &[],
    separators: &["původní zpráva", "přeposlaná zpráva"],
    forward_sentences: &[r"začátek\s+přeposlané\s+zprávy"],
    header_labels: &["od", "odesláno", "odesílatel", "komu", "předmět", "datum", "kopie"],
    signoffs: &[r"odesláno\s+z\s+", r"získat\s+outlook\s+pro\b"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "po 1. 1. 2024 v 10:00 odesílatel Jan Novák <jan@example.cz> napsal:",
            source: GMAIL,
        },
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "Dne po 15. led. 2025 17:03 Anna Anderssonová <anna.anderssonova@example.com>\nnapsal(a):",
            source: MAILPARSER_REPLY,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "1. 1. 2024 v 10:00, Jan Novák <jan@example.cz>:",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "Dne 1. 1. 2024 v 10:00 Jan Novák napsal(a):",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Od: Jan Novák <jan@example.cz>\nOdesláno: pondělí 1. ledna 2024 10:00\nKomu: Petra Dvořáková <petra@example.cz>\nPředmět: Rozpis směn",
            source: OUTLOOK,
        },
        Format {
            client: "Outlook",
            kind: Separator,
            sample: "-----Původní zpráva-----",
            source: OUTLOOK,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Odesláno z iPhonu",
            source: APPLE,
        },
    ],
};
