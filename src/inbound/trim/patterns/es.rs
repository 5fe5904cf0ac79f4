//! Spanish.

use super::{Format, FormatKind::*, Language, APPLE, GMAIL, OUTLOOK, THUNDERBIRD};

/// Spanish.
pub const ES: Language = Language {
    code: "es",
    verbs: &["escribió", r"ha\s+escrito"],
    leads: &["el"],
    verbs_on: &[r"escribió\s+el\s"],
    openers: &[],
    separators: &["mensaje original", "mensaje reenviado"],
    forward_sentences: &[r"inicio\s+del\s+mensaje\s+reenviado"],
    header_labels: &["de", "enviado", "enviado el", "para", "asunto", "fecha", "cc"],
    signoffs: &[
        r"enviado\s+(?:desde|con|de)\s+(?:mi|el|outlook|yahoo|iphone|ipad|samsung|android)\b",
        r"obtener\s+outlook\s+para\b",
    ],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "El lun, 1 ene 2024 a las 10:00, Juan García (<juan@example.es>) escribió:",
            source: GMAIL,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "El 1 ene 2024, a las 10:00, Juan García <juan@example.es> escribió:",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "El 1/1/24 a las 10:00, Juan García escribió:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "De: Juan García <juan@example.es>\nEnviado el: lunes, 1 de enero de 2024 10:00\nPara: Ana López <ana@example.es>\nAsunto: Turnos",
            source: OUTLOOK,
        },
        Format {
            client: "Outlook",
            kind: Separator,
            sample: "-----Mensaje original-----",
            source: OUTLOOK,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Enviado desde mi iPhone",
            source: APPLE,
        },
    ],
};
