//! Bulgarian.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, OUTLOOK, THUNDERBIRD};

/// Bulgarian.
pub const BG: Language = Language {
    code: "bg",
    verbs: &["написа"],
    leads: &["на"],
    verbs_on: &[],
    openers: &[],
    separators: &["оригинално писмо", "оригинално съобщение", "препратено съобщение"],
    forward_sentences: &[],
    header_labels: &["от", "изпратено", "до", "относно", "тема", "дата"],
    signoffs: &[r"изпратено\s+от\s+"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "пн, 1.01.2024 г. в 10:00 ч. Иван Петров <ivan@example.bg> написа:",
            source: GMAIL,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "На 1.01.24 г. в 10:00, Иван Петров написа:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "От: Иван Петров <ivan@example.bg>\nИзпратено: понеделник, 1 януари 2024 г. 10:00\nДо: Мария Георгиева <maria@example.bg>\nОтносно: График",
            source: OUTLOOK,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Оригинално писмо --------",
            source: THUNDERBIRD,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Изпратено от моя iPhone",
            source: APPLE,
        },
    ],
};
