//! Italian.

use super::{Format, FormatKind::*, Language, APPLE, CRISP, GMAIL, OUTLOOK, THUNDERBIRD};

/// Italian.
pub const IT: Language = Language {
    code: "it",
    verbs: &[r"ha\s+scritto"],
    leads: &["il", r"in\s+data"],
    verbs_on: &[r"ha\s+scritto\s+il\s"],
    openers: &[],
    separators: &["messaggio originale", "messaggio inoltrato"],
    forward_sentences: &[r"inizio\s+messaggio\s+inoltrato"],
    header_labels: &["da", "inviato", "data", "a", "oggetto", "risposta", "cc"],
    signoffs: &[
        r"inviato\s+da(?:l)?\s+(?:mio\s+|il\s+mio\s+)?\S+(?:\s+\S+){0,3}$",
        r"scarica\s+outlook\s+per\b",
    ],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "Il giorno lun 1 gen 2024 alle ore 10:00 Mario Rossi <mario@example.it> ha scritto:",
            source: GMAIL,
        },
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "Il giovedì 8 dicembre 2016, Company Questions <questions@mycompany.com>\nha scritto:",
            source: CRISP,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "Il giorno 1 gen 2024, alle ore 10:00, Mario Rossi <mario@example.it> ha scritto:",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "Il 01/01/24 10:00, Mario Rossi ha scritto:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Da: Mario Rossi <mario@example.it>\nInviato: lunedì 1 gennaio 2024 10:00\nA: Lucia Bianchi <lucia@example.it>\nOggetto: Turni",
            source: OUTLOOK,
        },
        Format {
            client: "Outlook",
            kind: Separator,
            sample: "-----Messaggio originale-----",
            source: OUTLOOK,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Inviato da iPhone",
            source: APPLE,
        },
    ],
};
