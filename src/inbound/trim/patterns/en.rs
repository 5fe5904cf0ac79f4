//! English: the default of most clients, and the words of Thunderbird's locales that keep
//! English (el, ja, uk).

use super::{Format, FormatKind::*, Language, APPLE, CORPORA, GMAIL, OUTLOOK, THUNDERBIRD};

/// English.
pub const EN: Language = Language {
    code: "en",
    verbs: &["wrote", "writes", "said", "says"],
    leads: &["on", "at", r"in\s+message"],
    verbs_on: &[r"wrote\s+on\s"],
    openers: &[],
    separators: &[
        "original message",
        "reply message",
        "forwarded message",
        "forwarded e-?mail",
        "original appointment",
    ],
    forward_sentences: &["begin forwarded message", "forwarded message"],
    header_labels: &["from", "sent", "date", "to", "cc", "bcc", "subject", "reply-to"],
    signoffs: &[
        r"get\s+(?:outlook|the\s+\S+\s+app)\b",
        r"\S+\s+from\s+mobile$",
        r"from\s+my\s+\S+(?:\s+\S+){0,3}$",
    ],
    reply_above: &[
        "type your reply above this line",
        "please type your reply above this line",
        "reply above this line",
    ],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "On Mon, Jan 1, 2024 at 10:00 AM Ann Smith <ann@example.org> wrote:",
            source: GMAIL,
        },
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "On Mon, Jan 1, 2024 at 10:00 AM Ann Smith <\nann.smith.long.address@example.org> wrote:",
            source: GMAIL,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "On 1 Jan 2024, at 10:00, Ann Smith <ann@example.org> wrote:",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "On 01/01/2024 10:00, Ann Smith wrote:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "From: Ann Smith <ann@example.org>\nSent: Monday, January 1, 2024 10:00 AM\nTo: Bob Jones <bob@example.org>\nSubject: Rota",
            source: OUTLOOK,
        },
        Format {
            client: "Outlook",
            kind: Separator,
            sample: "-----Original Message-----",
            source: OUTLOOK,
        },
        Format {
            client: "Gmail",
            kind: Separator,
            sample: "---------- Forwarded message ---------",
            source: GMAIL,
        },
        Format {
            client: "Apple Mail",
            kind: Separator,
            sample: "Begin forwarded message:",
            source: APPLE,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Sent from my iPhone",
            source: APPLE,
        },
        Format {
            client: "Outlook",
            kind: Signoff,
            sample: "Get Outlook for Android<https://aka.ms/ghei36>",
            source: OUTLOOK,
        },
        Format {
            client: "digestd",
            kind: ReplyAbove,
            sample: "## Type your reply above this line ##",
            source: super::DIGESTD,
        },
        Format {
            client: "Discourse",
            kind: ReplyAbove,
            sample: "## Please type your reply above this line. ##",
            source: CORPORA,
        },
        Format {
            client: "Zendesk",
            kind: ReplyAbove,
            sample: "##- Please type your reply above this line -##",
            source: "Zendesk notification mails (the reply delimiter it documents)",
        },
    ],
};
