//! Raw header values of a parsed message, looked up by name before any text is made.
//!
//! `mail_parser::Message::headers_raw` checks every header's value as UTF-8 before the caller
//! sees its name; the pipeline asks for a handful of headers by name several times per message,
//! so these helpers match the name first and convert only the values asked for.

use mail_parser::{Header, Message};

/// The raw value (as it stands in the message, unfolded) of `header`, one of `msg`'s top-level
/// headers; `None` when it is not UTF-8.
pub fn value<'m>(msg: &'m Message<'_>, header: &Header<'_>) -> Option<&'m str> {
    let raw = msg.raw_message();
    let bytes = raw.get(header.offset_start as usize..header.offset_end as usize)?;
    std::str::from_utf8(bytes).ok()
}

/// The raw values of the top-level headers named `name` (any case), in message order.
pub fn values<'m>(msg: &'m Message<'_>, name: &'m str) -> impl Iterator<Item = &'m str> + 'm {
    msg.headers()
        .iter()
        .filter(move |h| h.name.as_str().eq_ignore_ascii_case(name))
        .filter_map(move |h| value(msg, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_by_name_in_any_case_and_in_order() {
        let raw = b"From: a@x\r\nX-Thing: one\r\nx-thing: two \r\nSubject: s\r\n\r\nbody";
        let msg = mail_parser::MessageParser::default()
            .parse(&raw[..])
            .expect("parses");
        let got: Vec<&str> = values(&msg, "X-THING").map(str::trim).collect();
        assert_eq!(got, vec!["one", "two"]);
        assert_eq!(values(&msg, "Nope").count(), 0);
        let from = msg.headers().first().expect("a header");
        assert_eq!(value(&msg, from).map(str::trim), Some("a@x"));
    }

    #[test]
    fn a_value_that_is_not_utf8_is_skipped() {
        let raw = b"X-Thing: \xff\xfe\r\nX-Thing: fine\r\n\r\nbody";
        let msg = mail_parser::MessageParser::default()
            .parse(&raw[..])
            .expect("parses");
        let got: Vec<&str> = values(&msg, "x-thing").map(str::trim).collect();
        assert_eq!(got, vec!["fine"]);
    }
}
