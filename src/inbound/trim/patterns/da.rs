//! Danish.

use super::{Format, FormatKind::*, Language, APPLE, CRISP, GMAIL, OUTLOOK, THUNDERBIRD};

/// Danish.
pub const DA: Language = Language {
    code: "da",
    verbs: &["skrev"],
    leads: &["den", "kl\\."],
    verbs_on: &[r"skrev\s+den\s"],
    openers: &[],
    separators: &[
        "oprindelig meddelelse",
        "videresendt meddelelse",
        "oprindelig besked",
        "videresendt besked",
    ],
    forward_sentences: &[r"start\s+på\s+videresendt\s+besked"],
    header_labels: &["fra", "sendt", "til", "emne", "dato", "cc", "kopi"],
    signoffs: &[r"sendt\s+fra\s+(?:min|mit|outlook)\b", r"hent\s+outlook\s+til\b"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "man. 1. jan. 2024 kl. 10.00 skrev Jens Jensen <jens@example.dk>:",
            source: GMAIL,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "Den 1. jan. 2024 kl. 10.00 skrev Jens Jensen <jens@example.dk>:",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "Den 01-01-2024 kl. 10:00 skrev Jens Jensen:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "Fra: Jens Jensen <jens@example.dk>\nSendt: 1. januar 2024 10:00\nTil: Mette Hansen <mette@example.dk>\nEmne: Vagtplan",
            source: OUTLOOK,
        },
        Format {
            client: "Samsung Email",
            kind: Separator,
            sample: "-------- Oprindelig besked --------",
            source: CRISP,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Sendt fra min iPhone",
            source: APPLE,
        },
    ],
};
