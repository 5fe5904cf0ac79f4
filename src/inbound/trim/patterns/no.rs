//! Norwegian (Bokmål and Nynorsk).

use super::{Format, FormatKind::*, Language, APPLE, CRISP, OUTLOOK, THUNDERBIRD};

/// Norwegian.
pub const NO: Language = Language {
    code: "no",
    verbs: &["skrev", "skreiv"],
    leads: &["den", "kl\\."],
    verbs_on: &[r"skrev\s+den\s", r"skreiv\s+den\s"],
    openers: &[],
    separators: &["opprinnelig melding", "videresendt melding", "opphavleg melding"],
    forward_sentences: &[],
    header_labels: &["fra", "sendt", "til", "emne", "dato", "kopi"],
    signoffs: &[r"sendt\s+fra\s+(?:min|mitt|mi|outlook)\b"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "tir. 18. apr. 2017 kl. 13:09 skrev Test user <test@example.com\n>:",
            source: CRISP,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "Den 01.01.2024 10:00, skrev Ola Nordmann:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Fra: Ola Nordmann <ola@example.no>\nSendt: mandag 1. januar 2024 10:00\nTil: Kari Nordmann <kari@example.no>\nEmne: Vaktliste",
            source: OUTLOOK,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Opprinnelig melding --------",
            source: THUNDERBIRD,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Sendt fra min iPhone",
            source: APPLE,
        },
    ],
};
