//! Estonian.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, OUTLOOK, THUNDERBIRD};

/// Estonian.
pub const ET: Language = Language {
    code: "et",
    verbs: &["kirjutas"],
    leads: &[],
    verbs_on: &[r"kirjutas\s+kuupäeval\s"],
    openers: &[],
    separators: &["algne kiri", "algne sõnum", "edastatud kiri"],
    forward_sentences: &[],
    header_labels: &["saatja", "saadetud", "adressaat", "teema", "kuupäev", "koopia"],
    signoffs: &[r"saadetud\s+(?:minu\s+)?\S+(?:ist|st|lt)\b"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "Mari Maasikas <mari@example.ee> kirjutas kuupäeval E, 1. jaanuar 2024 kell 10:00:",
            source: GMAIL,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "1.01.2024 10:00 Mari Maasikas kirjutas:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Saatja: Mari Maasikas <mari@example.ee>\nSaadetud: esmaspäev, 1. jaanuar 2024 10:00\nAdressaat: Jaan Tamm <jaan@example.ee>\nTeema: Graafik",
            source: OUTLOOK,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Algne kiri --------",
            source: THUNDERBIRD,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Saadetud minu iPhone'ist",
            source: APPLE,
        },
    ],
};
