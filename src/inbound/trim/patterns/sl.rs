//! Slovenian.

use super::{Format, FormatKind::*, Language, GMAIL, OUTLOOK, THUNDERBIRD};

/// Slovenian.
pub const SL: Language = Language {
    code: "sl",
    verbs: &[r"napisal\(a\)", "napisal", "napisala"],
    leads: &["v", "dne"],
    verbs_on: &[],
    openers: &[],
    separators: &["izvirno sporočilo", "posredovano sporočilo"],
    forward_sentences: &[],
    header_labels: &["od", "poslano", "za", "zadeva", "datum", "kp"],
    signoffs: &[r"poslano\s+(?:iz|z|s)\s+"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "V pon., 1. jan. 2024 ob 10:00 je Janez Novak <janez@example.si> napisal(a):",
            source: GMAIL,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "1. 01. 2024 ob 10:00 je Janez Novak napisal:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Od: Janez Novak <janez@example.si>\nPoslano: ponedeljek, 1. januar 2024 10:00\nZa: Mojca Kranjc <mojca@example.si>\nZadeva: Razpored",
            source: OUTLOOK,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Izvirno sporočilo --------",
            source: THUNDERBIRD,
        },
    ],
};
