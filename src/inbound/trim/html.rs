//! Turns an HTML reply (Outlook, Gmail, Apple Mail, Thunderbird, Yahoo, webmails) into plain
//! text with light Markdown (lists as `- `/`1. `, links as `[text](url)`), leaving out the quoted
//! part the client added: every `blockquote`, Gmail's `.gmail_quote`, Thunderbird's
//! `.moz-cite-prefix`, Yahoo's `.yahoo_quoted`, and everything from Outlook's `#divRplyFwdMsg`,
//! `#appendonsend` or `#OLK_SRC_BODY_SECTION` on. An `<hr>` or an Outlook `border-top`
//! separator followed by a "From:/Date:" header block also ends the reply.
//!
//! Parsing is html5ever's (the browser algorithm, so broken markup is fine); the walk over the
//! tree is iterative, so deeply nested input cannot overflow the stack.

use std::rc::Rc;

use html5ever::tendril::TendrilSink;
use markup5ever_rcdom::{Handle, NodeData, RcDom};

use super::headers;

/// Input larger than this is cut before parsing (a reply is never this long).
const MAX_HTML_BYTES: usize = 4 * 1024 * 1024;

/// Deepest tag nesting parsed as a tree; deeper input is only stripped of its tags.
const MAX_NESTING: usize = 1_000;

/// Rough maximum nesting depth of the markup (opening minus closing tags, void tags ignored).
fn nesting_estimate(html: &str) -> usize {
    let bytes = html.as_bytes();
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while let Some(off) = memchr_lt(&bytes[i..]) {
        i += off + 1;
        match bytes.get(i) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(c) if c.is_ascii_alphabetic() => {
                let name: Vec<u8> = bytes[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .map(u8::to_ascii_lowercase)
                    .collect();
                let void = matches!(
                    name.as_slice(),
                    b"br"
                        | b"hr"
                        | b"img"
                        | b"meta"
                        | b"link"
                        | b"input"
                        | b"wbr"
                        | b"col"
                        | b"area"
                        | b"base"
                        | b"source"
                );
                if !void {
                    depth += 1;
                    max = max.max(depth);
                }
            }
            _ => {}
        }
    }
    max
}

/// Position of the next `<`.
fn memchr_lt(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'<')
}

/// Fallback for hostile markup: drops tags, turns block tags into line breaks.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[open + 1..open + close]
            .trim_start_matches('/')
            .to_ascii_lowercase();
        if ["br", "p", "div", "li", "tr", "h"]
            .iter()
            .any(|t| tag.starts_with(t))
        {
            out.push('\n');
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// Classes whose element (and content) is a quote or a client signature.
const SKIP_CLASSES: &[&str] = &[
    "gmail_quote",
    "gmail_quote_container",
    "gmail_attr",
    "gmail_signature",
    "moz-cite-prefix",
    "moz-signature",
    "yahoo_quoted",
    "protonmail_quote",
    "zmail_extra",
];

/// Ids after which nothing belongs to the reply (Outlook's reply/forward header and quote).
const STOP_IDS: &[&str] = &["divrplyfwdmsg", "appendonsend", "olk_src_body_section"];

/// Ids of a client signature block.
const SKIP_IDS: &[&str] = &["signature", "ms-outlook-mobile-signature"];

/// Elements whose content is never shown.
const HIDDEN: &[&str] = &[
    "head",
    "style",
    "script",
    "title",
    "template",
    "noscript",
    "object",
    "iframe",
    "svg",
    "blockquote",
];

/// Elements that start and end a line.
const BLOCKS: &[&str] = &[
    "div",
    "li",
    "tr",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "section",
    "article",
    "header",
    "footer",
    "address",
    "center",
    "form",
    "dl",
    "dt",
    "dd",
    "fieldset",
    "figure",
    "figcaption",
    "main",
    "nav",
    "aside",
    "caption",
    "body",
    "html",
];

/// Elements set apart by a blank line.
const PARAGRAPHS: &[&str] = &["p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "pre"];

/// Converts an HTML reply to text, leaving out the quoted message (see the module docs).
pub fn html_to_reply_text(html: &str) -> String {
    let html = if html.len() > MAX_HTML_BYTES {
        let mut end = MAX_HTML_BYTES;
        while !html.is_char_boundary(end) {
            end -= 1;
        }
        &html[..end]
    } else {
        html
    };
    if nesting_estimate(html) > MAX_NESTING {
        // The tree builder is quadratic in nesting depth: hostile input gets plain stripping.
        return strip_tags(html);
    }
    let dom = html5ever::parse_document(RcDom::default(), Default::default()).one(html);
    let mut r = Renderer::default();
    r.walk(&dom.document);
    r.finish()
}

/// Pending separation before the next text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
enum Break {
    #[default]
    None,
    Line,
    Paragraph,
}

/// An open list: ordered or not, and the next number.
#[derive(Debug, Clone, Copy)]
struct List {
    ordered: bool,
    next: u32,
}

/// What to do when leaving an element.
#[derive(Debug)]
enum Exit {
    /// Close a block: a line break after it.
    Block(Break),
    /// Close an Outlook paragraph: a blank line when it showed nothing.
    MsoParagraph { lines_before: usize },
    /// Close a list.
    List,
    /// Close a link: wrap its text as `[text](url)`.
    Link {
        url: String,
        line: usize,
        col: usize,
    },
    /// Leave a `<pre>`.
    Pre,
    /// Close a table cell.
    Cell,
}

/// Walks the DOM and accumulates lines.
#[derive(Debug, Default)]
struct Renderer {
    lines: Vec<String>,
    current: String,
    pending: Break,
    lists: Vec<List>,
    pre: usize,
    /// Output line indexes where a separator (`<hr>`, border-top) stood.
    separators: Vec<usize>,
    stopped: bool,
}

/// True when the text shows something (a no-break space counts: Outlook's blank paragraphs).
fn has_content(s: &str) -> bool {
    s.chars().any(|c| !c.is_ascii_whitespace())
}

/// Lower-case attribute value of an element.
fn attr(handle: &Handle, name: &str) -> Option<String> {
    if let NodeData::Element { attrs, .. } = &handle.data {
        attrs
            .borrow()
            .iter()
            .find(|a| str::eq_ignore_ascii_case(&a.name.local, name))
            .map(|a| a.value.to_string())
    } else {
        None
    }
}

impl Renderer {
    fn walk(&mut self, root: &Handle) {
        enum Step {
            Enter(Handle),
            Exit(Exit),
        }
        let mut stack = vec![Step::Enter(Rc::clone(root))];
        while let Some(step) = stack.pop() {
            if self.stopped {
                break;
            }
            match step {
                Step::Exit(exit) => self.exit(exit),
                Step::Enter(node) => match &node.data {
                    NodeData::Text { contents } => {
                        let text = contents.borrow().to_string();
                        self.text(&text);
                    }
                    NodeData::Document => {
                        for child in node.children.borrow().iter().rev() {
                            stack.push(Step::Enter(Rc::clone(child)));
                        }
                    }
                    NodeData::Element { name, .. } => {
                        let tag = name.local.to_ascii_lowercase();
                        let Some(exit) = self.enter(&node, &tag) else {
                            continue;
                        };
                        stack.push(Step::Exit(exit));
                        for child in node.children.borrow().iter().rev() {
                            stack.push(Step::Enter(Rc::clone(child)));
                        }
                    }
                    _ => {}
                },
            }
        }
    }

    /// Handles an element start; `None` when its content is skipped.
    fn enter(&mut self, node: &Handle, tag: &str) -> Option<Exit> {
        if HIDDEN.contains(&tag) {
            return None;
        }
        let id = attr(node, "id").map(|s| s.to_ascii_lowercase());
        if let Some(id) = &id {
            if STOP_IDS.contains(&id.as_str()) {
                self.stopped = true;
                return None;
            }
            if SKIP_IDS.contains(&id.as_str()) {
                return None;
            }
        }
        let class = attr(node, "class").unwrap_or_default();
        if class.split_whitespace().any(|c| {
            SKIP_CLASSES.iter().any(|s| c.eq_ignore_ascii_case(s)) || c.contains("yahoo_quoted")
        }) {
            return None;
        }
        match tag {
            "br" => {
                self.resolve();
                self.push_line();
                return Some(Exit::Block(Break::None));
            }
            "hr" => {
                self.mark_separator();
                return Some(Exit::Block(Break::Line));
            }
            "img" => return None,
            "ul" | "ol" => {
                self.want(Break::Paragraph);
                self.lists.push(List {
                    ordered: tag == "ol",
                    next: attr(node, "start")
                        .and_then(|s| s.trim().parse().ok())
                        .unwrap_or(1),
                });
                return Some(Exit::List);
            }
            "li" => {
                self.want(Break::Line);
                self.resolve();
                let depth = self.lists.len().saturating_sub(1);
                let marker = match self.lists.last_mut() {
                    Some(l) if l.ordered => {
                        let m = format!("{}. ", l.next);
                        l.next = l.next.saturating_add(1);
                        m
                    }
                    _ => "- ".to_string(),
                };
                self.current.push_str(&"  ".repeat(depth));
                self.current.push_str(&marker);
                return Some(Exit::Block(Break::Line));
            }
            "a" => {
                let href = attr(node, "href").unwrap_or_default();
                let href = href.trim();
                if href.starts_with("http://") || href.starts_with("https://") {
                    self.resolve();
                    return Some(Exit::Link {
                        url: href.to_string(),
                        line: self.lines.len(),
                        col: self.current.len(),
                    });
                }
                return Some(Exit::Block(Break::None));
            }
            "td" | "th" => {
                if has_content(&self.current) && !self.current.ends_with(' ') {
                    self.current.push(' ');
                }
                return Some(Exit::Cell);
            }
            "pre" => {
                self.want(Break::Paragraph);
                self.pre += 1;
                return Some(Exit::Pre);
            }
            _ => {}
        }
        let style = attr(node, "style").unwrap_or_default().to_ascii_lowercase();
        if tag == "div" && style.contains("border-top") && style.contains("solid") {
            self.mark_separator();
        }
        if (tag == "p" || tag == "div") && class.split_whitespace().any(|c| c.starts_with("Mso")) {
            self.want(Break::Line);
            self.resolve();
            return Some(Exit::MsoParagraph {
                lines_before: self.lines.len(),
            });
        }
        if PARAGRAPHS.contains(&tag) {
            self.want(Break::Paragraph);
            return Some(Exit::Block(Break::Paragraph));
        }
        if BLOCKS.contains(&tag) {
            self.want(Break::Line);
            return Some(Exit::Block(Break::Line));
        }
        Some(Exit::Block(Break::None))
    }

    fn exit(&mut self, exit: Exit) {
        match exit {
            Exit::Block(b) => self.want(b),
            Exit::MsoParagraph { lines_before } => {
                if self.lines.len() == lines_before && !has_content(&self.current) {
                    self.current.clear();
                    self.lines.push(String::new());
                    self.pending = Break::None;
                } else {
                    self.want(Break::Line);
                }
            }
            Exit::List => {
                self.lists.pop();
                self.want(Break::Paragraph);
            }
            Exit::Link { url, line, col } => {
                if self.lines.len() != line || col > self.current.len() {
                    return;
                }
                let text = self.current[col..].trim().to_string();
                let bare = |u: &str| {
                    u.trim_start_matches("https://")
                        .trim_start_matches("http://")
                        .trim_end_matches('/')
                        .to_string()
                };
                if text.is_empty() || bare(&text) == bare(&url) {
                    return;
                }
                let lead = self.current[col..].len() - self.current[col..].trim_start().len();
                self.current.insert(col + lead, '[');
                while self.current.ends_with(' ') {
                    self.current.pop();
                }
                self.current.push_str("](");
                self.current.push_str(&url);
                self.current.push(')');
            }
            Exit::Pre => {
                self.pre = self.pre.saturating_sub(1);
                self.want(Break::Paragraph);
            }
            Exit::Cell => {
                if !self.current.is_empty() && !self.current.ends_with(' ') {
                    self.current.push(' ');
                }
            }
        }
    }

    /// Asks for at least this separation before the next text.
    fn want(&mut self, b: Break) {
        self.pending = self.pending.max(b);
    }

    /// Applies the pending separation.
    fn resolve(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        if pending == Break::None {
            return;
        }
        if has_content(&self.current) {
            self.push_line();
        } else {
            self.current.clear();
        }
        if pending == Break::Paragraph && self.lines.last().is_some_and(|l| !l.trim().is_empty()) {
            self.lines.push(String::new());
        }
    }

    /// Ends the current line (empty or not).
    fn push_line(&mut self) {
        let line = std::mem::take(&mut self.current);
        self.lines.push(line.trim_end_matches(' ').to_string());
    }

    /// Records a separator position (the line it starts).
    fn mark_separator(&mut self) {
        self.want(Break::Line);
        self.resolve();
        self.separators.push(self.lines.len());
    }

    /// Adds a text node's content.
    fn text(&mut self, text: &str) {
        if self.pre > 0 {
            self.resolve();
            let mut parts = text.split('\n');
            if let Some(first) = parts.next() {
                self.current.push_str(first);
            }
            for part in parts {
                self.push_line();
                self.current.push_str(part);
            }
            return;
        }
        let mut collapsed = String::with_capacity(text.len());
        let mut space = false;
        for c in text.chars() {
            if c.is_ascii_whitespace() {
                space = true;
            } else {
                if space {
                    collapsed.push(' ');
                }
                space = false;
                collapsed.push(c);
            }
        }
        if space {
            collapsed.push(' ');
        }
        if collapsed.trim_matches(' ').is_empty() {
            // Whitespace between tags: a space only inside a line.
            if !collapsed.is_empty() && !self.current.is_empty() && !self.current.ends_with(' ') {
                self.current.push(' ');
            }
            return;
        }
        self.resolve();
        let mut s = collapsed.as_str();
        if self.current.is_empty() || self.current.ends_with(' ') {
            s = s.trim_start_matches(' ');
        }
        self.current.push_str(s);
    }

    /// Produces the text, cut at the first separator followed by a header block.
    fn finish(mut self) -> String {
        if has_content(&self.current) {
            self.push_line();
        }
        let mut lines: Vec<String> = self
            .lines
            .into_iter()
            .map(|l| l.replace('\u{a0}', " ").trim_end().to_string())
            .collect();
        for &at in &self.separators {
            let next = lines.iter().skip(at).find(|l| !l.trim().is_empty());
            let quoted = next.is_some_and(|l| {
                headers::is_header_label(l)
                    || headers::is_forward_marker(l)
                    || headers::find_attribution(&[l.as_str()], 0).is_some()
            });
            if quoted && at <= lines.len() {
                lines.truncate(at);
                break;
            }
        }
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let lead = lines.iter().take_while(|l| l.is_empty()).count();
        lines.drain(..lead);
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divs_and_breaks() {
        let html = "<div>Hi. I am fine.</div><div><br></div><div>Thanks,</div><div>Alex</div>";
        assert_eq!(html_to_reply_text(html), "Hi. I am fine.\n\nThanks,\nAlex");
    }

    #[test]
    fn paragraphs_and_source_newlines() {
        assert_eq!(
            html_to_reply_text("<p>One\ntwo</p><p>Three</p>"),
            "One two\n\nThree"
        );
    }

    #[test]
    fn quotes_are_removed() {
        let html = r#"Reply<div class="gmail_quote">On Mon, Jan 1, 2024 at 10:00 AM Bob wrote:<blockquote>old</blockquote></div>"#;
        assert_eq!(html_to_reply_text(html), "Reply");
        let html = r#"<div>Reply</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg">From: x</div><div>old</div>"#;
        assert_eq!(html_to_reply_text(html), "Reply");
        let html = r#"<div>Yes</div><div class="yahoo_quoted">On Monday, Bob wrote: old</div>"#;
        assert_eq!(html_to_reply_text(html), "Yes");
    }

    #[test]
    fn hr_before_header_block_cuts() {
        let html = "<div>message<br><div><hr>From: a@example.org<br>Date: Fri, 23 Mar 2012<br>To: b<br>Subject: s<br><br>text</div></div>";
        assert_eq!(html_to_reply_text(html), "message");
        assert_eq!(
            html_to_reply_text("<p>above</p><hr><p>below</p>"),
            "above\n\nbelow"
        );
    }

    #[test]
    fn lists_and_links() {
        let html = r#"<ul><li>one</li><li>two</li></ul><ol><li>a</li><li>b</li></ol><p>See <a href="https://example.org/x">the page</a>.</p>"#;
        assert_eq!(
            html_to_reply_text(html),
            "- one\n- two\n\n1. a\n2. b\n\nSee [the page](https://example.org/x)."
        );
    }

    #[test]
    fn outlook_empty_paragraph_is_a_blank_line() {
        let html = r#"<p class=MsoNormal>Hi<o:p></o:p></p><p class=MsoNormal> <o:p></o:p></p><p class=MsoNormal>Bye</p>"#;
        assert_eq!(html_to_reply_text(html), "Hi\n\nBye");
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let html = "<div>".repeat(50_000) + "deep" + &"</div>".repeat(50_000);
        assert_eq!(html_to_reply_text(&html), "deep");
        let html = "<div>".repeat(900) + "deep" + &"</div>".repeat(900);
        assert_eq!(html_to_reply_text(&html), "deep");
    }
}
