//! Korean.

use super::{
    Format, FormatKind::*, Language, APPLE, GMAIL, MAILPARSER_REPLY, OUTLOOK, THUNDERBIRD,
};

/// Korean.
pub const KO: Language = Language {
    code: "ko",
    verbs: &["작성하였습니다", "작성", r"쓴\s*글"],
    leads: &[],
    verbs_on: &[],
    openers: &[],
    separators: &["원본 메시지", "전달된 메시지", "전달 메시지"],
    forward_sentences: &["전달된 메시지"],
    header_labels: &[r"보낸\s*사람", r"보낸\s*날짜", r"받는\s*사람", "제목", "참조", "날짜"],
    signoffs: &[r"(?:\S+\s+){0,3}\S*에서\s*보냄$"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "2024년 1월 1일 (월) 오전 10:00, 홍길동 <hong@example.kr>님이 작성:",
            source: GMAIL,
        },
        Format {
            client: "Naver / Daum webmail",
            kind: Attribution,
            sample: "2024년 1월 1일 월요일 오전 10시 0분, 홍길동 <hong@example.kr>님이 작성하였습니다:",
            source: MAILPARSER_REPLY,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "2024. 1. 1. 오전 10:00, 홍길동 <hong@example.kr> 작성:",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "2024-01-01 오전 10:00에 홍길동 이(가) 쓴 글:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "보낸 사람: 홍길동 <hong@example.kr>\n보낸 날짜: 2024년 1월 1일 월요일 오전 10:00\n받는 사람: 김영희 <younghee@example.kr>\n제목: 근무표",
            source: OUTLOOK,
        },
        Format {
            client: "Outlook",
            kind: Separator,
            sample: "-----원본 메시지-----",
            source: OUTLOOK,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "iPhone에서 보냄",
            source: APPLE,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "내 iPhone에서 보냄",
            source: MAILPARSER_REPLY,
        },
    ],
};
