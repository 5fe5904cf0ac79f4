//! Indonesian.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, THUNDERBIRD};

/// Indonesian.
pub const ID: Language = Language {
    code: "id",
    verbs: &["menulis"],
    leads: &["pada"],
    verbs_on: &[],
    openers: &[],
    separators: &["pesan asli", "pesan terusan"],
    forward_sentences: &[],
    header_labels: &["dari", "dikirim", "kepada", "subjek", "perihal", "tanggal"],
    signoffs: &[r"dikirim\s+dari\s+"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample:
                "Pada tanggal Sen, 1 Jan 2024 pukul 10.00 Budi Santoso <budi@example.id> menulis:",
            source: GMAIL,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Pesan Asli --------",
            source: THUNDERBIRD,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Dikirim dari iPhone saya",
            source: APPLE,
        },
    ],
};
