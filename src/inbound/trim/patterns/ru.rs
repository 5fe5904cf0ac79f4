//! Russian.

use super::{Format, FormatKind::*, Language, APPLE, CRISP, OUTLOOK, THUNDERBIRD};

/// Russian.
pub const RU: Language = Language {
    code: "ru",
    verbs: &[r"написал\(а\)", "написала", "написал", "пишет"],
    leads: &["в"],
    verbs_on: &[],
    openers: &[],
    separators: &[
        "исходное сообщение",
        "пересылаемое сообщение",
        "пересланное сообщение",
        "оригинальное сообщение",
    ],
    forward_sentences: &[],
    header_labels: &["от", "отправлено", "дата", "кому", "копия", "тема"],
    signoffs: &[r"отправлено\s+(?:с|из|со)\s+", r"получить\s+outlook\s+для\b"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "ср, 30 апр. 2025 г. в 15:19, John Doe <doe@example.com>:",
            source: CRISP,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "1 янв. 2024 г., в 10:00, Иван Петров <ivan@example.ru> написал(а):",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "01.01.2024 10:00, Иван Петров пишет:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "От: Иван Петров <ivan@example.ru>\nОтправлено: 1 января 2024 г. 10:00\nКому: Мария Смирнова <maria@example.ru>\nТема: График",
            source: OUTLOOK,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Исходное сообщение --------",
            source: THUNDERBIRD,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Отправлено с iPhone",
            source: APPLE,
        },
    ],
};
