//! Case-insensitive search for ASCII words in text, the cheap tests the trimming rules run on
//! every line before any pattern: `memchr` finds the candidates for the first letter (both
//! cases at once), and only those are compared.

/// True when `haystack` holds `needle` in any ASCII case. `needle` should be ASCII; a
/// non-ASCII byte in it matches only itself.
pub fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    find_ignore_case(haystack.as_bytes(), needle.as_bytes()).is_some()
}

/// Byte offset of the first occurrence of `needle` in `haystack`, in any ASCII case.
fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = match needle.split_first() {
        Some(split) => split,
        None => return Some(0),
    };
    let last_start = haystack.len().checked_sub(needle.len())?;
    let lower = first.to_ascii_lowercase();
    let upper = first.to_ascii_uppercase();
    memchr::memchr2_iter(lower, upper, &haystack[..=last_start])
        .find(|&at| haystack[at + 1..at + needle.len()].eq_ignore_ascii_case(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain definition the fast search must agree with.
    fn naive(haystack: &str, needle: &str) -> bool {
        needle.is_empty()
            || haystack
                .as_bytes()
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    }

    #[test]
    fn agrees_with_the_plain_definition() {
        let haystacks = [
            "",
            "s",
            "Sent",
            "I SENT it",
            "presen",
            "xx sEnT",
            "Max schrieb am Fr.",
            "écrit sent ü",
            "a via b",
            "wrote o",
            "wrote on",
        ];
        for h in haystacks {
            for n in ["", "sent", " via ", "schrieb am", "wrote on", "é", "s"] {
                assert_eq!(contains_ignore_case(h, n), naive(h, n), "{h:?} / {n:?}");
            }
        }
    }

    #[test]
    fn finds_the_first_match() {
        assert_eq!(find_ignore_case(b"a Via via", b"via"), Some(2));
        assert_eq!(find_ignore_case(b"vi", b"via"), None);
    }
}
