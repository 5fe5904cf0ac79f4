//! Portuguese (Portugal and Brazil).

use super::{Format, FormatKind::*, Language, APPLE, CRISP, GMAIL, OUTLOOK, THUNDERBIRD};

/// Portuguese.
pub const PT: Language = Language {
    code: "pt",
    verbs: &["escreveu", "escrevem"],
    leads: &["em", "às"],
    verbs_on: &[r"escreveu\s+em\s"],
    openers: &[],
    separators: &["mensagem original", "mensagem encaminhada"],
    forward_sentences: &[r"início\s+da\s+mensagem\s+(?:reencaminhada|encaminhada)"],
    header_labels: &["de", "enviado", "enviada", "enviada em", "para", "assunto", "data", "cc"],
    signoffs: &[
        r"enviado\s+(?:do|de|a\s+partir\s+do)\s+(?:meu|minha|o|outlook|yahoo|iphone|ipad|samsung|android)\b",
        r"obter\s+o\s+outlook\s+para\b",
    ],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "Em seg., 1 de jan. de 2024 às 10:00, João Silva <joao@example.pt> escreveu:",
            source: GMAIL,
        },
        Format {
            client: "Airmail",
            kind: Attribution,
            sample: "Em 10 de julho de 2017 às 16:32:35, John Doe - Stripe (\ncontact@stripe.com) escreveu:",
            source: CRISP,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "Em 1 de jan. de 2024, à(s) 10:00, João Silva <joao@example.pt> escreveu:",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "Às 10:00 de 01/01/2024, João Silva escreveu:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "De: João Silva <joao@example.pt>\nEnviado: segunda-feira, 1 de janeiro de 2024 10:00\nPara: Ana Costa <ana@example.pt>\nAssunto: Escala",
            source: OUTLOOK,
        },
        Format {
            client: "Outlook",
            kind: Separator,
            sample: "-----Mensagem original-----",
            source: OUTLOOK,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "Enviado do meu iPhone",
            source: APPLE,
        },
    ],
};
