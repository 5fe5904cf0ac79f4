//! German.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, OUTLOOK, THUNDERBIRD};

/// German.
pub const DE: Language = Language {
    code: "de",
    verbs: &[r"schrieben\s+sie", "schrieb", "geschrieben"],
    leads: &["am"],
    verbs_on: &[r"schrieb\s+am\s"],
    openers: &[],
    separators: &[
        "ursprüngliche nachricht",
        "weitergeleitete nachricht",
        "originalnachricht",
        "original-nachricht",
        "ursprüngliche mitteilung",
    ],
    forward_sentences: &["anfang der weitergeleiteten nachricht"],
    header_labels: &["von", "gesendet", "an", "betreff", "datum", "kopie", "antwort an"],
    signoffs: &[
        r"von\s+meinem\s+.{1,40}\s+gesendet",
        r"gesendet\s+(?:von|mit)\s+(?:meinem|der|einem|outlook|gmx|web\.de|blackberry|samsung|iphone|ipad)\b",
        r"diese\s+nachricht\s+wurde\s+von\s+.{1,60}\s+gesendet",
        r"outlook\s+für\s+\S+\s+herunterladen",
    ],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "Am Mo., 1. Jan. 2024 um 10:00 Uhr schrieb Max Mustermann <max@example.de>:",
            source: GMAIL,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "Am 01.01.2024 um 10:00 schrieb Max Mustermann <max@example.de>:",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "Am 01.01.24 um 10:00 schrieb Max Mustermann:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Von: Max Mustermann <max@example.de>\nGesendet: Montag, 1. Januar 2024 10:00\nAn: Erika Musterfrau <erika@example.de>\nBetreff: Dienstplan",
            source: OUTLOOK,
        },
        Format {
            client: "Outlook",
            kind: Separator,
            sample: "-----Ursprüngliche Nachricht-----",
            source: OUTLOOK,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Original-Nachricht --------",
            source: THUNDERBIRD,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Von meinem iPhone gesendet",
            source: APPLE,
        },
        Format {
            client: "Outlook",
            kind: Signoff,
            sample: "Outlook für Android herunterladen<https://aka.ms/ghei36>",
            source: OUTLOOK,
        },
    ],
};
