//! Hungarian.

use super::{
    Format, FormatKind::*, Language, APPLE, GMAIL, MAILPARSER_REPLY, OUTLOOK, THUNDERBIRD,
};

/// Hungarian.
pub const HU: Language = Language {
    code: "hu",
    verbs: &["írta"],
    leads: &[],
    verbs_on: &[r"írta\s+\d"],
    openers: &[],
    separators: &["eredeti üzenet", "továbbított üzenet", "eredeti levél", "továbbított levél"],
    forward_sentences: &[r"továbbított\s+levél\s+kezdete"],
    header_labels: &["feladó", "elküldve", "címzett", "tárgy", "dátum", "másolatot kap"],
    signoffs: &[
        r"elküldve\s+(?:az?\s+)?\S+(?:ról|ről)\b",
        r"\S+(?:ról|ről)\s+küldve$",
    ],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "Nagy Béla <bela@example.hu> ezt írta (időpont: 2024. jan. 1., H, 10:00):",
            source: GMAIL,
        },
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "2026. jan. 5., h 14:32 időpontban Nagy Béla <bela@example.hu> ezt írta:",
            source: MAILPARSER_REPLY,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "2024. jan. 1. dátummal, 10:00 időpontban Nagy Béla <bela@example.hu> írta:",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "2024. 01. 01. 10:00 keltezéssel, Nagy Béla írta:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Feladó: Nagy Béla <bela@example.hu>\nElküldve: 2024. január 1., hétfő 10:00\nCímzett: Kiss Anna <anna@example.hu>\nTárgy: Beosztás",
            source: OUTLOOK,
        },
        Format {
            client: "Outlook",
            kind: Separator,
            sample: "-----Eredeti üzenet-----",
            source: OUTLOOK,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Elküldve az iPhone-omról",
            source: APPLE,
        },
    ],
};
