//! Latvian.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, OUTLOOK};

/// Latvian.
pub const LV: Language = Language {
    code: "lv",
    verbs: &["rakstīja"],
    leads: &[],
    verbs_on: &[],
    openers: &[],
    separators: &["sākotnējais ziņojums", "sākotnējā ziņa", "pārsūtīta ziņa", "pārsūtītais ziņojums"],
    forward_sentences: &[],
    header_labels: &["no", "nosūtīts", "kam", "tēma", "datums"],
    signoffs: &[r"(?:nosūtīts|sūtīts)\s+no\s+"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "pirmd., 2024. g. 1. janv., plkst. 10:00 — lietotājs Jānis Bērziņš (<janis@example.lv>) rakstīja:",
            source: GMAIL,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "No: Jānis Bērziņš <janis@example.lv>\nNosūtīts: pirmdiena, 2024. gada 1. janvāris 10:00\nKam: Anna Kalniņa <anna@example.lv>\nTēma: Grafiks",
            source: OUTLOOK,
        },
        Format {
            client: "Outlook",
            kind: Separator,
            sample: "-----Sākotnējais ziņojums-----",
            source: OUTLOOK,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Sūtīts no mana iPhone",
            source: APPLE,
        },
    ],
};
