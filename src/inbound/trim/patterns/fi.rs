//! Finnish.

use super::{Format, FormatKind::*, Language, APPLE, CRISP, GMAIL, OUTLOOK, THUNDERBIRD};

/// Finnish.
pub const FI: Language = Language {
    code: "fi",
    verbs: &["kirjoitti"],
    leads: &[],
    verbs_on: &[r"kirjoitti\s+\d"],
    openers: &[],
    separators: &["alkuperäinen viesti", "välitetty viesti"],
    forward_sentences: &[],
    header_labels: &["lähettäjä", "lähetetty", "vastaanottaja", "aihe", "päivämäärä", "kopio"],
    signoffs: &[r"lähetetty\s+\S+(?:sta|stä|lla|llä)\b"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "pe 20. lokakuuta 2017 klo 17.50 John Coe\n<s.testtesttest.i@test.com> kirjoitti:",
            source: CRISP,
        },
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "ma 1.1.2024 klo 10.00 Matti Meikäläinen (matti@example.fi) kirjoitti:",
            source: GMAIL,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "Matti Meikäläinen <matti@example.fi> kirjoitti 1.1.2024 kello 10.00:",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "1.1.2024 10.00, Matti Meikäläinen kirjoitti:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Lähettäjä: Matti Meikäläinen <matti@example.fi>\nLähetetty: maanantai 1. tammikuuta 2024 10.00\nVastaanottaja: Liisa Virtanen <liisa@example.fi>\nAihe: Työvuorot",
            source: OUTLOOK,
        },
        Format {
            client: "Outlook",
            kind: Separator,
            sample: "-----Alkuperäinen viesti-----",
            source: OUTLOOK,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Lähetetty iPhonesta",
            source: APPLE,
        },
    ],
};
