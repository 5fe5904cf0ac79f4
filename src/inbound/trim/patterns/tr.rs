//! Turkish.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, OUTLOOK, THUNDERBIRD};

/// Turkish.
pub const TR: Language = Language {
    code: "tr",
    verbs: &["yazdı"],
    leads: &[],
    verbs_on: &[],
    openers: &[],
    separators: &["orijinal mesaj", "iletilen mesaj", "özgün ileti", "özgün İleti"],
    forward_sentences: &[],
    header_labels: &["kimden", "gönderen", "gönderildi", "kime", "konu", "tarih", "bilgi"],
    signoffs: &[r"\S+(?:dan|den|tan|ten)\s+gönderildi$"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "Ali Yılmaz <ali@example.com.tr>, 1 Oca 2024 Pzt, 10:00 tarihinde şunu yazdı:",
            source: GMAIL,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "1.01.2024 10:00 tarihinde Ali Yılmaz yazdı:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Kimden: Ali Yılmaz <ali@example.com.tr>\nGönderildi: 1 Ocak 2024 Pazartesi 10:00\nKime: Ayşe Demir <ayse@example.com.tr>\nKonu: Nöbet listesi",
            source: OUTLOOK,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "iPhone'umdan gönderildi",
            source: APPLE,
        },
    ],
};
