//! Polish.

use super::{Format, FormatKind::*, Language, APPLE, CRISP, GMAIL, OUTLOOK, THUNDERBIRD};

/// Polish.
pub const PL: Language = Language {
    code: "pl",
    verbs: &[r"napisał\(a\)", "napisała", "napisał", "pisze", "nadesłał"],
    leads: &["dnia", r"w\s+dniu"],
    verbs_on: &[],
    openers: &[r"wiadomość\s+napisana\s+przez"],
    separators: &[
        "wiadomość oryginalna",
        "oryginalna wiadomość",
        "treść oryginalnej wiadomości",
        "przekazana wiadomość",
    ],
    forward_sentences: &[r"początek\s+przekazywanej\s+wiadomości"],
    header_labels: &["od", "wysłano", "wysłane", "do", "temat", "dw", "data"],
    signoffs: &[
        r"wysłane\s+(?:z|ze)\s+(?:mojego|mojej|iphone|telefonu|aplikacji|outlook)",
        r"wysłano\s+z\s+",
        r"pobierz\s+(?:aplikację\s+)?outlook\s+dla\b",
    ],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "pon., 1 sty 2024 o 10:00 Jan Kowalski <jan@example.pl> napisał(a):",
            source: GMAIL,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "Wiadomość napisana przez Jan Kowalski <jan@example.pl> w dniu 01.01.2024, o godz. 10:00:",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "W dniu 1.01.2024 o 10:00, Jan Kowalski pisze:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Onet / WP webmail",
            kind: Attribution,
            sample: "W dniu 2017-01-09 11:59:39 użytkownik Company Questions <questions@company.com> napisał:",
            source: CRISP,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Od: Jan Kowalski <jan@example.pl>\nWysłano: poniedziałek, 1 stycznia 2024 10:00\nDo: Anna Nowak <anna@example.pl>\nTemat: Grafik",
            source: OUTLOOK,
        },
        Format {
            client: "Outlook",
            kind: Separator,
            sample: "-----Wiadomość oryginalna-----",
            source: OUTLOOK,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Treść oryginalnej wiadomości --------",
            source: THUNDERBIRD,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Wysłane z iPhone'a",
            source: APPLE,
        },
    ],
};
