//! Greek.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, OUTLOOK, THUNDERBIRD};

/// Greek.
pub const EL: Language = Language {
    code: "el",
    verbs: &["έγραψε"],
    leads: &["στις"],
    verbs_on: &[],
    openers: &[],
    separators: &["αρχικό μήνυμα", "προωθημένο μήνυμα"],
    forward_sentences: &[],
    header_labels: &["από", "στάλθηκε", "προς", "θέμα", "ημερομηνία", "κοιν"],
    signoffs: &[r"στάλθηκε\s+από\s+"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "Στις Δευ 1 Ιαν 2024 στις 10:00, ο/η Γιάννης Παπαδόπουλος <giannis@example.gr> έγραψε:",
            source: GMAIL,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Από: Γιάννης Παπαδόπουλος <giannis@example.gr>\nΣτάλθηκε: Δευτέρα, 1 Ιανουαρίου 2024 10:00 πμ\nΠρος: Μαρία Νικολάου <maria@example.gr>\nΘέμα: Πρόγραμμα",
            source: OUTLOOK,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Αρχικό μήνυμα --------",
            source: THUNDERBIRD,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Στάλθηκε από το iPhone μου",
            source: APPLE,
        },
    ],
};
