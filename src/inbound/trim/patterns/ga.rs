//! Irish.

use super::{Format, FormatKind::*, Language, THUNDERBIRD};

/// Irish.
pub const GA: Language = Language {
    code: "ga",
    verbs: &[],
    leads: &[],
    verbs_on: &[],
    openers: &[],
    separators: &["teachtaireacht bhunaidh"],
    forward_sentences: &[],
    header_labels: &[],
    signoffs: &[],
    reply_above: &[],
    formats: &[Format {
        client: "Thunderbird",
        kind: Separator,
        sample: "-------- Teachtaireacht Bhunaidh --------",
        source: THUNDERBIRD,
    }],
};
