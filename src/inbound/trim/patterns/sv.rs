//! Swedish.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, OUTLOOK, THUNDERBIRD};

/// Swedish.
pub const SV: Language = Language {
    code: "sv",
    verbs: &["skrev", "skrivit"],
    leads: &["den", "på"],
    verbs_on: &[r"skrev\s+den\s"],
    openers: &[],
    separators: &["ursprungligt meddelande", "vidarebefordrat meddelande"],
    forward_sentences: &[r"vidarebefordrat\s+(?:mejl|brev)"],
    header_labels: &["från", "skickat", "till", "ämne", "datum", "kopia"],
    signoffs: &[r"skickat\s+från\s+(?:min|mitt|outlook)\b", r"från\s+min\s+", r"hämta\s+outlook\s+för\b"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "mån 1 jan. 2024 kl. 10:00 skrev Anna Andersson <anna@example.se>:",
            source: GMAIL,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "1 jan. 2024 kl. 10:00 skrev Anna Andersson <anna@example.se>:",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "Den 2024-01-01 kl. 10:00, skrev Anna Andersson:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Från: Anna Andersson <anna@example.se>\nSkickat: den 1 januari 2024 10:00\nTill: Erik Berg <erik@example.se>\nÄmne: Schema",
            source: OUTLOOK,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Ursprungligt meddelande --------",
            source: THUNDERBIRD,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Skickat från min iPhone",
            source: APPLE,
        },
    ],
};
