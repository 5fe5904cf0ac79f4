//! Lithuanian.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, OUTLOOK, THUNDERBIRD};

/// Lithuanian.
pub const LT: Language = Language {
    code: "lt",
    verbs: &["rašė"],
    leads: &[],
    verbs_on: &[],
    openers: &[],
    separators: &["originalus laiškas", "originalus pranešimas", "persiųstas laiškas"],
    forward_sentences: &[],
    header_labels: &["nuo", "išsiųsta", "kam", "tema", "data"],
    signoffs: &[r"išsiųsta\s+iš\s+"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "2024-01-01, pr, 10:00, Jonas Jonaitis <jonas@example.lt> rašė:",
            source: GMAIL,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "2024-01-01 10:00, Jonas Jonaitis rašė:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Nuo: Jonas Jonaitis <jonas@example.lt>\nIšsiųsta: 2024 m. sausio 1 d. 10:00\nKam: Ona Petraitė <ona@example.lt>\nTema: Grafikas",
            source: OUTLOOK,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Originalus laiškas --------",
            source: THUNDERBIRD,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Išsiųsta iš mano iPhone",
            source: APPLE,
        },
    ],
};
