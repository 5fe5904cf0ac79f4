//! Ukrainian.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, OUTLOOK, THUNDERBIRD};

/// Ukrainian.
pub const UK: Language = Language {
    code: "uk",
    verbs: &["пише", r"написав\(ла\)", "написав", "написала"],
    leads: &[],
    verbs_on: &[],
    openers: &[],
    separators: &[
        "оригінальне повідомлення",
        "початкове повідомлення",
        "переслане повідомлення",
    ],
    forward_sentences: &[],
    header_labels: &["від", "надіслано", "кому", "тема", "копія", "дата"],
    signoffs: &[r"надіслано\s+(?:з|із)\s+", r"завантажити\s+outlook\s+для\b"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "пн, 1 січ. 2024 р. о 10:00 Петро Іваненко <petro@example.ua> пише:",
            source: GMAIL,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "1 січ. 2024 р. о 10:00 Петро Іваненко <petro@example.ua> написав(ла):",
            source: APPLE,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Від: Петро Іваненко <petro@example.ua>\nНадіслано: 1 січня 2024 р. 10:00\nКому: Олена Коваль <olena@example.ua>\nТема: Графік",
            source: OUTLOOK,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Початкове повідомлення --------",
            source: THUNDERBIRD,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Надіслано з iPhone",
            source: APPLE,
        },
    ],
};
