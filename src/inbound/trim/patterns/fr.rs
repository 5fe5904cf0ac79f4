//! French.

use super::{Format, FormatKind::*, Language, APPLE, CRISP, GMAIL, OUTLOOK, THUNDERBIRD};

/// French.
pub const FR: Language = Language {
    code: "fr",
    verbs: &[r"a\s+écrit", r"nous\s+a\s+dit"],
    leads: &["le"],
    verbs_on: &[r"a\s+écrit\s+le\s"],
    openers: &[],
    separators: &[
        "message d'origine",
        "message original",
        "message transféré",
        "courriel original",
    ],
    forward_sentences: &[r"début\s+du\s+message\s+(?:transféré|réexpédié)"],
    header_labels: &[
        "de",
        "envoyé",
        "envoyé le",
        "à",
        "a",
        "objet",
        "sujet",
        "copie à",
        "répondre à",
        "expéditeur",
        "destinataire",
    ],
    signoffs: &[
        r"envoyé\s+(?:depuis|de|à\s+partir\s+de)\s+(?:mon|ma|yahoo|l'application|outlook|un)\b",
        r"télécharger\s+outlook\s+pour\b",
    ],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "Le lun. 1 janv. 2024 à 10:00, Marie Dupont <marie@example.fr> a écrit :",
            source: GMAIL,
        },
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "Le lun. 15 nov. 2021 à 19:42, John - Acme <john@acme.supportcorp.com>\na écrit :",
            source: CRISP,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "Le 1 janv. 2024 à 10:00, Marie Dupont <marie@example.fr> a écrit :",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "Le 01/01/2024 à 10:00, Marie Dupont a écrit :",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "De : Marie Dupont <marie@example.fr>\nEnvoyé : lundi 1 janvier 2024 10:00\nÀ : Paul Martin <paul@example.fr>\nObjet : Planning",
            source: OUTLOOK,
        },
        Format {
            client: "Outlook",
            kind: Separator,
            sample: "-----Message d'origine-----",
            source: OUTLOOK,
        },
        Format {
            client: "Apple Mail",
            kind: Separator,
            sample: "Début du message réexpédié :",
            source: APPLE,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Envoyé de mon iPhone",
            source: APPLE,
        },
        Format {
            client: "Outlook",
            kind: Signoff,
            sample: "Télécharger Outlook pour iOS<https://aka.ms/o0ukef>",
            source: OUTLOOK,
        },
    ],
};
