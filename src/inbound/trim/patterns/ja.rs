//! Japanese. Thunderbird's Japanese locale keeps the English forms.

use super::{Format, FormatKind::*, Language, APPLE, CRISP, GMAIL, MAILPARSER_REPLY, OUTLOOK};

/// Japanese.
pub const JA: Language = Language {
    code: "ja",
    verbs: &["のメール", "のメッセージ"],
    leads: &[],
    verbs_on: &[],
    openers: &[],
    separators: &["元のメッセージ", "転送メッセージ", "転送されたメッセージ"],
    forward_sentences: &["転送されたメッセージ"],
    header_labels: &["差出人", "送信者", "送信日時", "宛先", "件名", "日付"],
    signoffs: &[r"\S+\s*から送信$"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "2022年1月1日(金) 9:00 田中太郎 <taro.tanaka@example.com>:",
            source: MAILPARSER_REPLY,
        },
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "2024年1月1日(月) 10:00 山田太郎 <\ntaro.yamada.long.address@example.jp>:",
            source: GMAIL,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "2024/01/01 10:00、山田太郎 <taro@example.jp>のメール:",
            source: APPLE,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "2024/01/01 10:00、山田太郎 <taro@example.jp> のメッセージ:",
            source: CRISP,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "差出人: 山田太郎 <taro@example.jp>\n送信日時: 2024年1月1日 10:00\n宛先: 佐藤花子 <hanako@example.jp>\n件名: シフト表",
            source: OUTLOOK,
        },
        Format {
            client: "Outlook",
            kind: Separator,
            sample: "-----元のメッセージ-----",
            source: OUTLOOK,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "iPhoneから送信",
            source: APPLE,
        },
    ],
};
