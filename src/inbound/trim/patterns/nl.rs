//! Dutch.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, OUTLOOK, THUNDERBIRD};

/// Dutch.
pub const NL: Language = Language {
    code: "nl",
    verbs: &[r"het\s+volgende\s+geschreven", "schreef"],
    leads: &["op"],
    verbs_on: &[r"schreef\s+op\s"],
    openers: &[],
    separators: &["oorspronkelijk bericht", "origineel bericht", "doorgestuurd bericht"],
    forward_sentences: &[r"(?:begin\s+)?doorgestuurd\s+bericht"],
    header_labels: &["van", "verzonden", "verstuurd", "aan", "onderwerp", "beantwoorden - aan"],
    signoffs: &[
        r"(?:verzonden|verstuurd)\s+(?:vanaf|met|van(?:af)?|via)\s+(?:mijn|de|een|blackberry|outlook|ipad|iphone|android|samsung|mail)\b",
        r"outlook\s+voor\s+\S+\s+downloaden",
    ],
    reply_above: &["typ uw antwoord boven deze regel"],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "Op ma 1 jan 2024 om 10:00 schreef Jan Jansen <jan@example.nl>:",
            source: GMAIL,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "Op 1 jan. 2024 om 10:00 heeft Jan Jansen <jan@example.nl> het volgende geschreven:",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "Op 01-01-2024 om 10:00 schreef Jan Jansen:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Van: Jan Jansen <jan@example.nl>\nVerzonden: maandag 1 januari 2024 10:00\nAan: Piet de Vries <piet@example.nl>\nOnderwerp: Rooster",
            source: OUTLOOK,
        },
        Format {
            client: "Outlook",
            kind: Separator,
            sample: "-----Oorspronkelijk bericht-----",
            source: OUTLOOK,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Verstuurd vanaf mijn iPhone",
            source: APPLE,
        },
        Format {
            client: "digestd",
            kind: ReplyAbove,
            sample: "## Typ uw antwoord boven deze regel ##",
            source: super::DIGESTD,
        },
    ],
};
