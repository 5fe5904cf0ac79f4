//! Excerpts of post bodies for a digest, both parts, and the per-run cache that makes each post's
//! excerpt once, however many digests show it.
//!
//! The text part gets [`super::content::post_excerpt`] (plain text on one line). The HTML part
//! gets [`excerpt_html`]: the body as HTML (Markdown rendered by pulldown-cmark, raw HTML in it
//! kept for the sanitiser; forum HTML as is), parsed with html5ever and cut *in the tree* after
//! about `max_chars` visible characters, on a word, with "…": the rest of the text node and every
//! node after it are removed, so no tag is ever cut in half and every element stays closed. The
//! cut tree is serialised and then cleaned by ammonia with an allow-list for mail ([`sanitizer`]):
//! text formatting, paragraphs, lists, quotes, code, simple tables and links. No scripts, styles,
//! frames, forms, media, classes, ids or event handlers; links only `http`, `https` and `mailto`,
//! with `rel="noopener noreferrer"`; images become their alt text (readable without images, no
//! tracking pixels). The sanitiser runs last, on exactly what is shown, and gives each allowed tag
//! an inline style (mail clients ignore style sheets).
//!
//! Parsing a body three times (Markdown, tree, sanitiser) costs tens of microseconds, so a run
//! makes each post's excerpts once: [`ExcerptCache`], shared by every digest of the run through
//! [`super::RenderContext::excerpts`].

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, OnceLock, RwLock};

use html5ever::tendril::TendrilSink;
use html5ever::{local_name, ns, QualName};
use markup5ever_rcdom::{Handle, Node, NodeData, RcDom, SerializableHandle};
use pulldown_cmark::{Options, Parser};

use super::content::post_excerpt;
use crate::model::{BodyFormat, Post, PostId};

/// A post's excerpt in both forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// Plain text on one line (for the text part; HTML-escaped when a template shows it).
    pub text: String,
    /// Sanitised HTML fragment (for the HTML part, inserted as is).
    pub html: String,
}

impl Excerpt {
    /// Both excerpts of `post`, about `max_chars` visible characters each.
    pub fn of(post: &Post, max_chars: usize) -> Excerpt {
        Excerpt {
            text: post_excerpt(post, max_chars),
            html: excerpt_html(post, max_chars),
        }
    }
}

/// Excerpts by (post id, length), made on first use and shared by every digest of one run
/// (`Sync`). Within a run a post id names one unchanging post; make a new cache per run.
#[derive(Debug, Default)]
pub struct ExcerptCache {
    map: RwLock<HashMap<(PostId, usize), Arc<Excerpt>>>,
}

impl ExcerptCache {
    /// An empty cache.
    pub fn new() -> ExcerptCache {
        ExcerptCache::default()
    }

    /// The excerpts of `post` at `max_chars`, made now if no digest of this run needed them yet.
    pub fn get(&self, post: &Post, max_chars: usize) -> Arc<Excerpt> {
        let key = (post.id, max_chars);
        if let Some(e) = self.map.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Arc::clone(e);
        }
        let made = Arc::new(Excerpt::of(post, max_chars));
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        Arc::clone(map.entry(key).or_insert(made))
    }

    /// Posts (and lengths) cached so far.
    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Tags the sanitiser keeps.
const ALLOWED_TAGS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
];

/// Tags removed together with everything inside them (by the sanitiser, and skipped when
/// counting an excerpt's characters).
const DROPPED_WITH_CONTENT: &[&str] = &[
    "applet", "audio", "button", "canvas", "embed", "form", "frame", "frameset", "head", "iframe",
    "map", "math", "noembed", "noframes", "noscript", "object", "script", "select", "style", "svg",
    "template", "textarea", "title", "video",
];

const MONO: &str = "font-family:Consolas,Menlo,Courier,monospace;font-size:13px;";

/// The inline style each allowed tag gets (replacing any the body had).
fn tag_styles() -> Vec<(&'static str, String)> {
    let heading = "margin:0 0 6px 0;font-size:15px;line-height:22px;font-weight:bold;";
    let cell = "padding:2px 6px;border:1px solid #d9dee4;text-align:left;vertical-align:top;";
    let list = "margin:0 0 8px 0;padding:0 0 0 22px;";
    vec![
        ("p", "margin:0 0 8px 0;".into()),
        ("a", "color:#1e4e79;text-decoration:underline;".into()),
        ("ul", list.into()),
        ("ol", list.into()),
        ("li", "margin:0 0 2px 0;".into()),
        (
            "blockquote",
            "margin:0 0 8px 0;padding:0 0 0 10px;border-left:2px solid #d9dee4;color:#52606d;"
                .into(),
        ),
        (
            "pre",
            format!(
                "margin:0 0 8px 0;padding:6px 8px;background-color:#f3f4f6;white-space:pre-wrap;\
                 word-wrap:break-word;line-height:18px;{MONO}"
            ),
        ),
        ("code", format!("background-color:#f3f4f6;{MONO}")),
        ("h1", heading.into()),
        ("h2", heading.into()),
        ("h3", heading.into()),
        ("h4", heading.into()),
        ("h5", heading.into()),
        ("h6", heading.into()),
        ("table", "border-collapse:collapse;margin:0 0 8px 0;".into()),
        ("th", cell.into()),
        ("td", cell.into()),
        (
            "hr",
            "border:0;border-top:1px solid #d9dee4;margin:8px 0;".into(),
        ),
    ]
}

/// The mail-safe sanitiser (built once).
pub fn sanitizer() -> &'static ammonia::Builder<'static> {
    static B: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = ammonia::Builder::empty();
        b.tags(ALLOWED_TAGS.iter().copied().collect())
            .generic_attributes(std::collections::HashSet::new())
            .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
            .tag_attributes(
                [("a", ["href"].into_iter().collect())]
                    .into_iter()
                    .collect(),
            )
            .link_rel(Some("noopener noreferrer"))
            .url_schemes(["http", "https", "mailto"].into_iter().collect())
            .url_relative(ammonia::UrlRelative::Deny)
            .strip_comments(true);
        for (tag, style) in tag_styles() {
            // Leaked once per process (a few hundred bytes): the builder wants 'static strs.
            b.set_tag_attribute_value(tag, "style", &*Box::leak(style.into_boxed_str()));
        }
        b
    })
}

/// The whole body of `post` as sanitised HTML.
pub fn body_html(post: &Post) -> String {
    sanitizer()
        .clean(source_html(&post.body, post.body_format).trim())
        .to_string()
}

/// The first `max_chars` or so visible characters of `post`'s body as sanitised HTML (see the
/// module documentation): cut on a word with "…", every element closed.
pub fn excerpt_html(post: &Post, max_chars: usize) -> String {
    // Only a generous head of a long body can reach the excerpt (markup takes room too).
    let limit = max_chars.saturating_mul(16).max(4096);
    let (head, head_cut) = head_of(&post.body, limit);
    let html = source_html(head, post.body_format);
    let dom = html5ever::parse_fragment(
        RcDom::default(),
        html5ever::ParseOpts::default(),
        QualName::new(None, ns!(html), local_name!("div")),
        Vec::new(),
        false,
    )
    .one(html.as_ref());
    let Some(root) = dom.document.children.borrow().first().cloned() else {
        return String::new();
    };
    let (last_text, cut) = cut_tree(&root, max_chars.max(1));
    if head_cut && !cut {
        if let Some(NodeData::Text { contents }) = last_text.as_ref().map(|n| &n.data) {
            let mut c = contents.borrow_mut();
            let trimmed = c.trim_end().to_string();
            *c = format!("{trimmed}…").into();
        }
    }
    let mut out = Vec::with_capacity(html.len());
    let handle: SerializableHandle = root.into();
    if html5ever::serialize(&mut out, &handle, Default::default()).is_err() {
        return String::new();
    }
    sanitizer()
        .clean(String::from_utf8_lossy(&out).trim())
        .to_string()
}

/// A body as HTML: Markdown rendered (raw HTML in it passed on to the sanitiser), HTML as is.
fn source_html(body: &str, format: BodyFormat) -> std::borrow::Cow<'_, str> {
    match format {
        BodyFormat::Markdown => {
            let mut out = String::with_capacity(body.len() * 3 / 2);
            pulldown_cmark::html::push_html(
                &mut out,
                Parser::new_ext(body, Options::ENABLE_STRIKETHROUGH),
            );
            out.into()
        }
        BodyFormat::Html => body.into(),
    }
}

/// The first `limit` characters of `body`, backed up to before a `<` whose tag the cut would
/// split; and whether anything was cut.
fn head_of(body: &str, limit: usize) -> (&str, bool) {
    let Some((i, _)) = body.char_indices().nth(limit) else {
        return (body, false);
    };
    let head = &body[..i];
    match (head.rfind('<'), head.rfind('>')) {
        (Some(lt), gt) if gt.is_none_or(|gt| gt < lt) => (&head[..lt], true),
        _ => (head, true),
    }
}

/// Elements that separate text like a space (the plain-text excerpt counts them as one).
fn is_block(tag: &str) -> bool {
    matches!(
        tag,
        "p" | "div"
            | "br"
            | "li"
            | "ul"
            | "ol"
            | "blockquote"
            | "pre"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "tr"
            | "td"
            | "th"
            | "table"
            | "hr"
    )
}

fn parent_of(node: &Handle) -> Option<Handle> {
    let weak = node.parent.take();
    let parent = weak.as_ref().and_then(std::rc::Weak::upgrade);
    node.parent.set(weak);
    parent
}

/// Replaces `node` in its parent's children by `with`.
fn replace(node: &Handle, with: Handle) {
    if let Some(parent) = parent_of(node) {
        let mut children = parent.children.borrow_mut();
        if let Some(i) = children.iter().position(|c| Rc::ptr_eq(c, node)) {
            with.parent.set(Some(Rc::downgrade(&parent)));
            children[i] = with;
        }
    }
}

/// Removes every node after `node` in document order (its later siblings, its ancestors' later
/// siblings, up to the root).
fn prune_after(node: &Handle) {
    let mut current = Rc::clone(node);
    while let Some(parent) = parent_of(&current) {
        {
            let mut children = parent.children.borrow_mut();
            if let Some(i) = children.iter().position(|c| Rc::ptr_eq(c, &current)) {
                children.truncate(i + 1);
            }
        }
        current = parent;
    }
}

/// Cuts the tree under `root` after `max_chars` visible characters (white space runs and block
/// boundaries count as one). Images become text nodes with their alt text. Returns the last text
/// node kept and whether the tree was cut. Iterative: deep nesting cannot overflow the stack.
fn cut_tree(root: &Handle, max_chars: usize) -> (Option<Handle>, bool) {
    let mut used = 0usize;
    // True after white space (or at the start): the next white space is not counted.
    let mut space = true;
    let mut last_text = None;
    let mut stack: Vec<Handle> = root.children.borrow().iter().rev().cloned().collect();
    while let Some(node) = stack.pop() {
        match &node.data {
            NodeData::Element { name, attrs, .. } => {
                let tag: &str = &name.local;
                if name.ns != ns!(html) || DROPPED_WITH_CONTENT.contains(&tag) {
                    continue;
                }
                if tag == "img" {
                    let alt = attrs
                        .borrow()
                        .iter()
                        .find(|a| &*a.name.local == "alt")
                        .map(|a| super::content::header_safe(&a.value))
                        .unwrap_or_default();
                    let text = if alt.is_empty() {
                        String::new()
                    } else {
                        format!("[{alt}]")
                    };
                    let replacement = Node::new(NodeData::Text {
                        contents: std::cell::RefCell::new(text.into()),
                    });
                    replace(&node, Rc::clone(&replacement));
                    stack.push(replacement);
                    continue;
                }
                if is_block(tag) && !space {
                    used += 1;
                    space = true;
                    if used >= max_chars {
                        // The budget ends on a boundary: nothing after it is shown.
                        prune_before_block(&node);
                        return (last_text, true);
                    }
                }
                stack.extend(node.children.borrow().iter().rev().cloned());
            }
            NodeData::Text { contents } => {
                let cut = {
                    let text = contents.borrow();
                    cut_text(&text, max_chars, &mut used, &mut space)
                };
                last_text = Some(Rc::clone(&node));
                if let Some(kept) = cut {
                    *contents.borrow_mut() = kept.into();
                    prune_after(&node);
                    return (last_text, true);
                }
            }
            _ => {}
        }
    }
    (last_text, false)
}

/// The budget ran out at the start of block `node`: remove it and everything after it, and mark
/// the cut with "…" on the text before it (when there is one, else on nothing).
fn prune_before_block(node: &Handle) {
    let marker = Node::new(NodeData::Text {
        contents: std::cell::RefCell::new("…".into()),
    });
    replace(node, Rc::clone(&marker));
    prune_after(&marker);
}

/// Counts `text` into `used`; when it would pass `max_chars`, returns what to keep of it: cut on
/// the last word boundary (unless that loses more than a third of the excerpt), trailing white
/// space and punctuation dropped, "…" added.
fn cut_text(text: &str, max_chars: usize, used: &mut usize, space: &mut bool) -> Option<String> {
    let (start_used, start_space) = (*used, *space);
    // Byte offset of the last counted white space in this node, and the count before it.
    let mut last_ws: Option<(usize, usize)> = None;
    for (i, c) in text.char_indices() {
        let ws = c.is_whitespace();
        if ws && *space {
            continue;
        }
        if *used >= max_chars {
            let keeps_enough = |count: usize| count * 3 >= max_chars * 2;
            let end = match last_ws {
                // The budget ends on white space: a clean word end.
                _ if ws => i,
                Some((at, count)) if keeps_enough(count) => at,
                // The word started with this node, after white space.
                None if start_space && keeps_enough(start_used) => 0,
                // One long word: a hard cut.
                _ => i,
            };
            let mut kept = text[..end]
                .trim_end_matches(|c: char| c.is_whitespace() || ",;:-–".contains(c))
                .to_string();
            kept.push('…');
            return Some(kept);
        }
        if ws {
            last_ws = Some((i, *used));
        }
        *used += 1;
        *space = ws;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::sample_post as post;

    /// Start tags (lower case) of a sanitised fragment; text never holds a raw `<`.
    fn tags(html: &str) -> Vec<String> {
        html.split('<')
            .skip(1)
            .filter_map(|s| s.split_once('>').map(|(t, _)| t.to_ascii_lowercase()))
            .filter(|t| !t.starts_with('/'))
            .collect()
    }

    /// Every tag opened is closed, in order (void tags aside).
    fn balanced(html: &str) -> bool {
        let mut open: Vec<String> = Vec::new();
        for part in html.split('<').skip(1) {
            let Some((tag, _)) = part.split_once('>') else {
                return false;
            };
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            if matches!(name.as_str(), "br" | "hr") {
                continue;
            }
            if tag.starts_with('/') {
                if open.pop().as_deref() != Some(name.as_str()) {
                    return false;
                }
            } else {
                open.push(name);
            }
        }
        open.is_empty()
    }

    fn assert_clean(h: &str) {
        for tag in tags(h) {
            for bad in [
                "script", "style", "iframe", "img", "form", "input", "object",
            ] {
                assert!(!tag.starts_with(bad), "<{tag}> in {h}");
            }
            assert!(!tag.contains("javascript:"), "<{tag}> in {h}");
            assert!(!tag.contains("class="), "<{tag}> in {h}");
            let handler = tag
                .split_whitespace()
                .any(|a| a.starts_with("on") && a.contains('='));
            assert!(!handler, "<{tag}> in {h}");
        }
        for gone in ["alert(", "steal(", "display:none", "evil.example"] {
            assert!(!h.contains(gone), "{gone} survived: {h}");
        }
        assert!(balanced(h), "unbalanced: {h}");
    }

    const HOSTILE_HTML: &str = "<p onclick=\"alert(1)\" class=\"x\" style=\"display:none\">Hi \
        <a href=\"javascript:alert(2)\">click</a> <a href=\"https://ok.example/a\" \
        onmouseover=\"alert(3)\" target=\"_blank\">ok</a></p><script>steal()</script>\
        <style>body{display:none}</style><img src=\"https://evil.example/pixel.gif\" \
        onerror=\"alert(4)\" alt=\"chart\"><iframe src=\"https://evil.example/\">frame \
        text</iframe><form action=\"https://evil.example/\"><input name=q>form text</form>\
        <svg><script>alert(5)</script></svg><p>after</p>";

    #[test]
    fn hostile_html_comes_out_clean() {
        let h = excerpt_html(&post(HOSTILE_HTML, BodyFormat::Html), 280);
        assert_clean(&h);
        assert!(h.contains("Hi"), "{h}");
        assert!(
            tags(&h)
                .iter()
                .any(|t| t.starts_with("a href=\"https://ok.example/a\"")
                    && t.contains("rel=\"noopener noreferrer\"")),
            "safe link kept with rel: {h}"
        );
        assert!(
            h.contains(">click</a>"),
            "unsafe link keeps its text only: {h}"
        );
        assert!(h.contains("[chart]"), "image shown as its alt text: {h}");
        assert!(!h.contains("frame text") && !h.contains("form text"), "{h}");
        assert!(h.contains("after"), "{h}");
        assert!(!h.contains("target="), "{h}");
        let whole = body_html(&post(HOSTILE_HTML, BodyFormat::Html));
        assert_clean(&whole);
    }

    #[test]
    fn hostile_markdown_comes_out_clean() {
        let md = "Hello <script>alert(1)</script> [x](javascript:alert(2)) \
                  <img src=x onerror=alert(3)> <a href=\"javascript:alert(4)\">y</a>\n\n\
                  <style>p{display:none}</style>\n\n<iframe src=\"https://evil.example\"></iframe>\n\n\
                  [fine](https://ok.example/b \"title\") and <https://ok.example/c>";
        let h = excerpt_html(&post(md, BodyFormat::Markdown), 280);
        assert_clean(&h);
        assert!(h.contains("Hello"), "{h}");
        assert!(h.contains("href=\"https://ok.example/b\""), "{h}");
        assert!(h.contains("href=\"https://ok.example/c\""), "{h}");
        assert!(!h.contains("title="), "no other attributes: {h}");
    }

    #[test]
    fn markdown_renders_as_html() {
        let md = "Some **bold**, *emphasis* and ~~gone~~ text with `code`.\n\n\
                  - first item\n- second [link](https://forum.example.org/t/1)\n\n\
                  1. one\n2. two\n\n> quoted\n\n# A heading";
        let h = excerpt_html(&post(md, BodyFormat::Markdown), 500);
        assert_clean(&h);
        for needle in [
            "<strong>bold</strong>",
            "<em>emphasis</em>",
            "<del>gone</del>",
            ">code</code>",
            "first item</li>",
            "<a href=\"https://forum.example.org/t/1\" style=\"color:#1e4e79;",
            ">link</a>",
            "<ol style=",
            "<blockquote style=",
            "<h1 style=",
        ] {
            assert!(h.contains(needle), "{needle:?} not in {h}");
        }
        assert!(h.starts_with("<p style=\"margin:0 0 8px 0;\">Some"), "{h}");
        assert!(!h.contains('…'), "not cut: {h}");
    }

    #[test]
    fn long_bodies_are_cut_in_the_tree_on_a_word() {
        let md = format!(
            "Intro **bold {} end** more\n\n- {}\n- last",
            "word ".repeat(40),
            "item ".repeat(40)
        );
        let h = excerpt_html(&post(&md, BodyFormat::Markdown), 100);
        assert_clean(&h);
        assert!(
            h.contains("…</strong></p>"),
            "cut inside <strong>, closed: {h}"
        );
        assert!(!h.contains("<ul"), "nothing after the cut: {h}");
        let visible = super::super::content::strip_html(&h);
        let n = visible.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(n.chars().count() <= 101, "{} chars: {n}", n.chars().count());
        assert!(n.ends_with("word…"), "cut on a word: {n}");

        // A cut that falls in a list item keeps the list well formed.
        let h = excerpt_html(&post(&md, BodyFormat::Markdown), 300);
        assert_clean(&h);
        assert!(h.contains("…</li></ul>"), "{h}");

        // HTML bodies the same way, whatever their nesting.
        let html = format!(
            "<div><table><tr><td><b>{}</b></td><td>cell</td></tr></table><p>tail</p></div>",
            "deep ".repeat(100)
        );
        let h = excerpt_html(&post(&html, BodyFormat::Html), 50);
        assert_clean(&h);
        assert!(h.contains("…</b></td></tr></tbody></table></div>"), "{h}");
        assert!(!h.contains("cell") && !h.contains("tail"), "{h}");
    }

    #[test]
    fn huge_bodies_are_cut_at_the_source_without_splitting_a_tag() {
        let body = format!("<p>{}</p>", "<b>x</b> ".repeat(5000));
        let (head, cut) = head_of(&body, 4096);
        assert!(cut);
        let (lt, gt) = (head.rfind('<'), head.rfind('>'));
        assert!(lt < gt, "no tag split: {:?}", &head[head.len() - 20..]);
        let (head, _) = head_of("abc <a href=\"https://x.example/long\">t</a>", 10);
        assert_eq!(head, "abc ");
        // Markup-heavy: the source is cut before the text reaches the budget; "…" still shows.
        let heavy = format!(
            "<p>{}</p>",
            format!("<span title=\"{}\">x</span> ", "t".repeat(60)).repeat(500)
        );
        let h = excerpt_html(&post(&heavy, BodyFormat::Html), 300);
        assert_clean(&h);
        assert!(h.ends_with("…</p>"), "{}", &h[h.len() - 30..]);
        assert!(h.matches('x').count() < 150, "only the head: {h}");
        let deep = format!("{}x", "<b>".repeat(3000));
        let h = excerpt_html(&post(&deep, BodyFormat::Html), 100);
        assert!(balanced(&h), "deep nesting handled");
    }

    #[test]
    fn short_and_empty_bodies() {
        assert_eq!(
            excerpt_html(&post("Just text.", BodyFormat::Markdown), 280),
            "<p style=\"margin:0 0 8px 0;\">Just text.</p>"
        );
        assert_eq!(excerpt_html(&post("", BodyFormat::Markdown), 280), "");
        assert_eq!(excerpt_html(&post("plain", BodyFormat::Html), 280), "plain");
        // Exactly at the limit: nothing is cut.
        assert_eq!(excerpt_html(&post("abcd", BodyFormat::Html), 4), "abcd");
        assert_eq!(excerpt_html(&post("abcde", BodyFormat::Html), 4), "abcd…");
        assert_eq!(
            excerpt_html(&post("<p>one</p><p>two</p>", BodyFormat::Html), 3),
            "<p style=\"margin:0 0 8px 0;\">one</p>…"
        );
    }

    #[test]
    fn cache_makes_each_excerpt_once() {
        let cache = ExcerptCache::new();
        let p = post("Hello **there**", BodyFormat::Markdown);
        let a = cache.get(&p, 100);
        let b = cache.get(&p, 100);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(cache.len(), 1);
        assert_eq!(a.text, "Hello there");
        assert!(a.html.contains("<strong>there</strong>"), "{}", a.html);
        let c = cache.get(&p, 5);
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(cache.len(), 2);
    }
}
