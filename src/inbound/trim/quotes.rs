//! Decides which quoted lines of a reply stay. Trailing quotes (top-posting) go; a quote
//! opened by an attribution and followed only by the answer (bottom-posting) goes; quotes
//! interleaved with answers stay as `> ` lines so the answers make sense, the attribution
//! with them only when it opens the reply. A message that is only a quote keeps the quote
//! (without the nested attributions).

use super::headers;

/// One retained group of lines with its role, as the quote rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Blank line.
    Empty,
    /// The person's own text.
    Text,
    /// A quoted line.
    Quote,
    /// An attribution introducing a quote.
    Attribution,
}

/// A group of source lines (`start..start + len`) with its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// First source line.
    pub start: usize,
    /// Number of source lines.
    pub len: usize,
    /// Role of the lines.
    pub role: Role,
}

/// True for a quoted line: `>` after optional blanks, or Supercite initials (`SC>`).
pub fn is_quote(line: &str) -> bool {
    let t = line.trim_start();
    if t.starts_with('>') {
        return true;
    }
    let initials = t.chars().take_while(char::is_ascii_uppercase).count();
    (1..=3).contains(&initials)
        && t[initials..].starts_with('>')
        && t[initials + 1..]
            .chars()
            .next()
            .is_none_or(char::is_whitespace)
}

/// Strips the quote markers of a quoted line.
fn unquote(line: &str) -> &str {
    line.trim_start_matches(|c: char| c == '>' || c.is_whitespace())
}

/// True when the text lines before an attribution are at most a greeting ("Hi,").
fn only_greeting(lines: &[&str], items: &[Item]) -> bool {
    let texts: Vec<&str> = items
        .iter()
        .filter(|it| it.role == Role::Text)
        .flat_map(|it| lines[it.start..it.start + it.len].iter().copied())
        .collect();
    match texts.as_slice() {
        [] => true,
        [one] => {
            let t = one.trim();
            let lower = t.to_lowercase();
            t.chars().count() <= 40
                && (t.ends_with(',')
                    || [
                        "hi", "hello", "hey", "dear", "hallo", "hoi", "beste", "bonjour", "salut",
                        "hola", "ciao", "olá", "hej",
                    ]
                    .iter()
                    .any(|g| lower.split(|c: char| !c.is_alphanumeric()).next() == Some(g)))
        }
        _ => false,
    }
}

/// Outcome of the quote rules: which items stay, and whether any quote was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Items kept, in order.
    pub kept: Vec<Item>,
    /// True when quoted lines or attributions were dropped.
    pub removed_quote: bool,
}

/// Applies the quote rules to `items` (the groups left after cutting signatures and headers).
pub fn decide(lines: &[&str], items: &[Item]) -> Decision {
    let Some(last_text) = items.iter().rposition(|it| it.role == Role::Text) else {
        return quote_only(lines, items);
    };
    let mut removed_quote = items[last_text + 1..]
        .iter()
        .any(|it| matches!(it.role, Role::Quote | Role::Attribution));
    let items = &items[..=last_text];
    let first_text = items
        .iter()
        .position(|it| it.role == Role::Text)
        .unwrap_or(0);
    let quote_after_text = items[first_text..].iter().any(|it| it.role == Role::Quote);
    let attributed_lead = items[..first_text]
        .iter()
        .any(|it| it.role == Role::Attribution);
    if !quote_after_text && attributed_lead {
        // Bottom-posted: "On … wrote:" + quote, then the answer.
        return Decision {
            kept: items[first_text..].to_vec(),
            removed_quote: true,
        };
    }
    let mut kept = Vec::with_capacity(items.len());
    for (k, it) in items.iter().enumerate() {
        if it.role == Role::Attribution && !only_greeting(lines, &items[..k]) {
            removed_quote = true;
            continue;
        }
        kept.push(*it);
    }
    Decision {
        kept,
        removed_quote,
    }
}

/// A message with no text of its own keeps its quote, minus attributions and empty nesting.
fn quote_only(lines: &[&str], items: &[Item]) -> Decision {
    let mut kept = Vec::new();
    let mut removed_quote = false;
    let mut has_content = false;
    for it in items {
        match it.role {
            Role::Attribution => removed_quote = true,
            Role::Quote => {
                let line = lines[it.start];
                let inner: Vec<&str> = vec![unquote(line)];
                if headers::find_attribution(&inner, 0).is_some() {
                    removed_quote = true;
                    continue;
                }
                has_content |= !inner[0].trim().is_empty();
                kept.push(*it);
            }
            Role::Empty | Role::Text => kept.push(*it),
        }
    }
    if !has_content {
        return Decision {
            kept: Vec::new(),
            removed_quote: removed_quote || !items.is_empty(),
        };
    }
    Decision {
        kept,
        removed_quote,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_markers() {
        assert!(is_quote("> hello"));
        assert!(is_quote("  >> nested"));
        assert!(is_quote("C> supercite"));
        assert!(is_quote("C>"));
        assert!(!is_quote("x>5 is true"));
        assert!(!is_quote("Richard> not initials"));
        assert!(!is_quote("plain"));
    }
}
