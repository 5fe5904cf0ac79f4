//! Vietnamese.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, THUNDERBIRD};

/// Vietnamese.
pub const VI: Language = Language {
    code: "vi",
    verbs: &[r"đã\s+viết"],
    leads: &["vào"],
    verbs_on: &[],
    openers: &[],
    separators: &["thư gốc", "thư chuyển tiếp"],
    forward_sentences: &[],
    header_labels: &["từ", "đã gửi", "đến", "chủ đề", "ngày"],
    signoffs: &[r"gửi\s+từ\s+"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "Vào Th 2, 1 thg 1, 2024 vào lúc 10:00 Nguyễn Văn An <an@example.vn> đã viết:",
            source: GMAIL,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Thư Gốc --------",
            source: THUNDERBIRD,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Gửi từ iPhone của tôi",
            source: APPLE,
        },
    ],
};
