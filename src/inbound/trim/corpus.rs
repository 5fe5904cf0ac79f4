//! Reply corpora in the shared format (`<id>.eml` + `<id>.expected.txt` per case) and their
//! scoring: both sides normalised (CRLF → LF, trailing spaces stripped per line, runs of blank
//! lines collapsed, leading and trailing blank lines dropped), then compared exactly. Used by
//! `digestd bench trim` and by the corpus regression test. Pure: the cases come in as
//! contents; `bench::trim::load_corpus` reads them from a folder.

/// One case of a corpus.
#[derive(Debug, Clone)]
pub struct Case {
    /// File stem (`discourse-quote_only`).
    pub id: String,
    /// Raw RFC 5322 message.
    pub eml: Vec<u8>,
    /// Expected trimmed text (UTF-8, as stored).
    pub expected: String,
}

/// The corpora's normalisation (see the module docs).
pub fn normalise(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let mut out: Vec<&str> = Vec::new();
    for line in text.split('\n') {
        let line = line.trim_end();
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// True when `actual` matches `expected` after normalisation.
pub fn matches(expected: &str, actual: &str) -> bool {
    normalise(expected) == normalise(actual)
}

/// A unified-style line diff (`-` expected, `+` actual, ` ` common) of two normalised texts.
pub fn line_diff(expected: &str, actual: &str) -> String {
    let e = normalise(expected);
    let a = normalise(actual);
    let e: Vec<&str> = e.lines().collect();
    let a: Vec<&str> = a.lines().collect();
    // Longest common subsequence table; corpora texts are small, and the size is capped.
    if e.len() * a.len() > 4_000_000 {
        return format!(
            "(texts too long to diff: {} vs {} lines)\n",
            e.len(),
            a.len()
        );
    }
    let mut lcs = vec![vec![0u32; a.len() + 1]; e.len() + 1];
    for i in (0..e.len()).rev() {
        for j in (0..a.len()).rev() {
            lcs[i][j] = if e[i] == a[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < e.len() || j < a.len() {
        if i < e.len() && j < a.len() && e[i] == a[j] {
            out.push_str(&format!("  {}\n", e[i]));
            i += 1;
            j += 1;
        } else if j < a.len() && (i == e.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+ {}\n", a[j]));
            j += 1;
        } else {
            out.push_str(&format!("- {}\n", e[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        assert_eq!(normalise("\n\na  \r\n\n\n\nb\n\n"), "a\n\nb");
        assert!(matches("a\n", "a   \n\n"));
    }

    #[test]
    fn diff_marks_changes() {
        assert_eq!(line_diff("a\nb", "a\nc"), "  a\n+ c\n- b\n");
    }
}
