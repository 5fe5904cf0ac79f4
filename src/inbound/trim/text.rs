//! The plain-text trimming pipeline: normalise line ends, classify lines, cut at the first
//! signature / header block / forward marker / unquoted attribution, then apply the quote
//! rules and drop a closing "-Name" line.

use super::lines::{Groups, Kind};
use super::quotes::{decide, Item, Role};
use super::rulers;
use super::signatures;
use super::Trimmed;

/// Trims a plain-text reply body (see [`super::trim_text`]).
pub fn trim(body: &str) -> Trimmed {
    // Lines without their ends: "\r\n" and "\n" are cut in place; only a body with a bare
    // "\r" (old Mac line ends) is rewritten first.
    let normalised;
    let body = if has_bare_cr(body) {
        normalised = body.replace("\r\n", "\n").replace('\r', "\n");
        normalised.as_str()
    } else {
        body
    };
    let mut lines: Vec<&str> =
        Vec::with_capacity(memchr::memchr_iter(b'\n', body.as_bytes()).count() + 1);
    lines.extend(body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)));
    let mut groups = Groups::new(&lines);

    let mut items: Vec<Item> = Vec::with_capacity(lines.len());
    let mut removed_quote = false;
    let mut removed_signature = false;
    let mut content_before = false;
    // True from a "reply above this line" marker above any text to the end of its quote.
    let mut in_marked_quote = false;
    // True once a separator was kept as a ruler inside the reply.
    let mut ruler_before = false;
    let mut g = 0;
    while let Some((start, kind)) = groups.get(g) {
        let len = kind.span();
        let item = |role| Item { start, len, role };
        if in_marked_quote {
            match kind {
                Kind::Quote | Kind::Empty | Kind::ReplyAbove => {
                    removed_quote = true;
                    g += 1;
                    continue;
                }
                _ => in_marked_quote = false,
            }
        }
        match kind {
            Kind::Empty => items.push(item(Role::Empty)),
            Kind::Text => {
                content_before = true;
                items.push(item(Role::Text));
            }
            Kind::Quote => {
                content_before = true;
                items.push(item(Role::Quote));
            }
            Kind::ReplyAbove => {
                removed_quote = true;
                if content_before {
                    drop_trailing_attribution(&mut items, &lines);
                    break;
                }
                // Written below the quoted mail: the quote under the marker goes.
                in_marked_quote = true;
            }
            Kind::SignatureDelimiter | Kind::Signoff | Kind::Disclaimer => {
                removed_signature = true;
                if content_before {
                    break;
                }
            }
            Kind::Delimiter => {
                if content_before {
                    if rulers::inside_reply(&mut groups, g, ruler_before) {
                        ruler_before = true;
                        items.push(item(Role::Text));
                    } else {
                        // Whatever follows a separator is a footer, a signature or a quoted mail.
                        removed_quote = true;
                        break;
                    }
                }
            }
            Kind::Forward | Kind::HeaderBlock { .. } => {
                removed_quote = true;
                if content_before {
                    break;
                }
            }
            Kind::Attribution { weak, .. } => {
                if groups.next_non_empty(g) == Some(Kind::Quote) {
                    items.push(item(Role::Attribution));
                } else if weak {
                    content_before = true;
                    items.push(item(Role::Text));
                } else {
                    // An attribution over an unquoted copy of the old mail.
                    removed_quote = true;
                    if content_before {
                        break;
                    }
                }
            }
        }
        g += 1;
    }

    let decision = decide(&lines, &items);
    removed_quote |= decision.removed_quote;
    let mut out: Vec<&str> = decision
        .kept
        .iter()
        .flat_map(|it| lines[it.start..it.start + it.len].iter().copied())
        .map(str::trim_end)
        .collect();
    trim_blank_edges(&mut out);
    if drop_dash_name(&mut out) {
        removed_signature = true;
        trim_blank_edges(&mut out);
    }
    Trimmed {
        text: out.join("\n"),
        removed_quote,
        removed_signature,
    }
}

/// Drops the lines a client wrote above the quoted mail when a "reply above this line"
/// marker ends the reply: the last paragraph, when it is at most two lines ending with a
/// colon (an attribution in a form the patterns do not know).
fn drop_trailing_attribution(items: &mut Vec<Item>, lines: &[&str]) {
    while items.last().is_some_and(|it| it.role == Role::Empty) {
        items.pop();
    }
    let run = items
        .iter()
        .rev()
        .take_while(|it| it.role == Role::Text)
        .count();
    let colon = items.last().is_some_and(|it| {
        lines[it.start + it.len - 1]
            .trim_end()
            .ends_with([':', '：'])
    });
    let paragraph_start = items.len() - run;
    let whole_paragraph = paragraph_start == 0 || items[paragraph_start - 1].role == Role::Empty;
    if colon && (1..=2).contains(&run) && whole_paragraph {
        items.truncate(paragraph_start);
    }
}

/// True when `body` holds a carriage return that does not start a "\r\n".
fn has_bare_cr(body: &str) -> bool {
    let bytes = body.as_bytes();
    body.match_indices('\r')
        .any(|(i, _)| bytes.get(i + 1) != Some(&b'\n'))
}

/// Removes leading and trailing blank lines.
fn trim_blank_edges(out: &mut Vec<&str>) {
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    let lead = out.iter().take_while(|l| l.trim().is_empty()).count();
    out.drain(..lead);
}

/// Drops a closing "-Name" line standing on its own after the text.
fn drop_dash_name(out: &mut Vec<&str>) -> bool {
    let n = out.len();
    if n >= 3
        && out[n - 2].trim().is_empty()
        && signatures::is_dash_name(out[n - 1])
        && !out[..n - 2].iter().any(|l| signatures::is_dash_name(l))
    {
        out.pop();
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_line_end_trims_alike() {
        let lf =
            "Yes, Thursday works.\n\nOn Mon, 2 Mar 2026 at 10:00, Ann <a@x.org> wrote:\n> When?\n";
        let want = trim(lf).text;
        assert_eq!(want, "Yes, Thursday works.");
        for body in [
            lf.replace('\n', "\r\n"),
            lf.replace('\n', "\r"),
            lf.replacen('\n', "\r", 1).replace('\n', "\r\n"),
            lf.replace('\n', "\r\r\n"),
        ] {
            assert_eq!(trim(&body).text, want, "{body:?}");
        }
    }

    #[test]
    fn the_reply_marker_cuts_with_the_attribution_above_it() {
        let t = trim(
            "Yes.\n\nQuelqu'un a envoyé le\n10/03/2024 :\n\n> ## Type your reply above this line ##\n> digest\n",
        );
        assert_eq!(t.text, "Yes.");
        assert!(t.removed_quote);
        // A closing line of the reply that does not end with a colon stays.
        let t = trim("Yes.\n\nPiet\n\n> ## Typ uw antwoord boven deze regel ##\n> x\n");
        assert_eq!(t.text, "Yes.\n\nPiet");
        // Written below the quoted digest: the digest goes, the answer stays.
        let t = trim("> ## Type your reply above this line ##\n> digest\n\nBelow.\n");
        assert_eq!(t.text, "Below.");
    }

    #[test]
    fn rulers_inside_the_reply_stay_and_signature_rulers_cut() {
        let t = trim("Minutes\n=======\n\nAgreed.\n");
        assert_eq!(t.text, "Minutes\n=======\n\nAgreed.");
        let t = trim("Thanks.\n\n-----\nAnn Smith\n+31 20 123 4567\n");
        assert_eq!(t.text, "Thanks.");
        // A ruler above a quoted mail, in either form, cuts too.
        let t = trim(
            "Thanks.\n\n-----\n\nFrom: Ann\nSent: Monday\nTo: Bob\nSubject: Plan\n\nWe could meet on Friday at ten.\n",
        );
        assert_eq!(t.text, "Thanks.");
        let t = trim("Thanks.\n______\n> Can we meet?\n\nSee you on Friday at ten then.\n");
        assert_eq!(t.text, "Thanks.");
        // In a code fence, the quote-like line is text of the reply.
        let t = trim(
            "Run:\n\n-----\n```\n> make\n```\nThen it builds in a minute or so.\n\nAnd then?\n",
        );
        assert_eq!(
            t.text,
            "Run:\n\n-----\n```\n> make\n```\nThen it builds in a minute or so.\n\nAnd then?"
        );
    }

    #[test]
    fn bare_carriage_returns_are_told_from_line_ends() {
        assert!(!has_bare_cr("a\r\nb\r\n"));
        assert!(!has_bare_cr("a\nb"));
        assert!(has_bare_cr("a\rb"));
        assert!(has_bare_cr("a\r\nb\r"));
        assert!(has_bare_cr("a\r\r\nb"));
    }
}
