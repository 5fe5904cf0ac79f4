//! Romanian.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, OUTLOOK, THUNDERBIRD};

/// Romanian.
pub const RO: Language = Language {
    code: "ro",
    verbs: &[r"a\s+scris"],
    leads: &["pe", "la"],
    verbs_on: &[r"a\s+scris\s+(?:în\s+data\s+de|la)\s"],
    openers: &[],
    separators: &["mesaj original", "mesajul original", "mesaj redirecționat"],
    forward_sentences: &[],
    header_labels: &[r"de\s+la", "trimis", "către", "subiect", "dată", "cc"],
    signoffs: &[r"trimis\s+(?:de\s+pe|din|de\s+la)\s+"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "Ion Popescu <ion@example.ro> a scris în data de lun., 1 ian. 2024, 10:00:",
            source: GMAIL,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "La 01.01.2024 10:00, Ion Popescu a scris:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "De la: Ion Popescu <ion@example.ro>\nTrimis: luni, 1 ianuarie 2024 10:00\nCătre: Maria Ionescu <maria@example.ro>\nSubiect: Program",
            source: OUTLOOK,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Mesajul original --------",
            source: THUNDERBIRD,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Trimis de pe iPhone-ul meu",
            source: APPLE,
        },
    ],
};
