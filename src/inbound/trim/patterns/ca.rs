//! Catalan.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, OUTLOOK, THUNDERBIRD};

/// Catalan.
pub const CA: Language = Language {
    code: "ca",
    verbs: &[r"va\s+escriure", r"ha\s+escrit"],
    leads: &["el"],
    verbs_on: &[r"ha\s+escrit\s+el\s"],
    openers: &[],
    separators: &["missatge original", "missatge reenviat"],
    forward_sentences: &[r"inici\s+del\s+missatge\s+reenviat"],
    header_labels: &["de", "enviat", "enviat el", r"per\s+a", "assumpte", "data", "a/c"],
    signoffs: &[r"enviat\s+(?:des\s+del?|amb|de)\s+(?:meu|meva|la|el|outlook|iphone|ipad|samsung|android)\b"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "El dl., 1 de gen. 2024 a les 10:00, Joan Puig (<joan@example.cat>) va escriure:",
            source: GMAIL,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "El 1 de gen. 2024, a les 10:00, Joan Puig <joan@example.cat> va escriure:",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "El 1/1/24 a les 10:00, Joan Puig ha escrit:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "De: Joan Puig <joan@example.cat>\nEnviat el: dilluns, 1 de gener de 2024 10:00\nPer a: Maria Soler <maria@example.cat>\nAssumpte: Torns",
            source: OUTLOOK,
        },
        Format {
            client: "Thunderbird",
            kind: Separator,
            sample: "-------- Missatge original --------",
            source: THUNDERBIRD,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Enviat des del meu iPhone",
            source: APPLE,
        },
    ],
};
