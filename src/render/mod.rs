//! Rendering: Digest → Email { subject, text, html } with Handlebars. **Invariant:** pure, no
//! I/O: the templates come in as contents ([`TemplateSources`], read by `template_files`).
//!
//! A templates directory (an admin may point `[digest] templates` elsewhere) holds:
//! - `digest.html.hbs` and `digest.txt.hbs`, and any other pair `X.html.hbs` / `X.txt.hbs` a role
//!   names as its template;
//! - `partials/*.hbs`, registered by file stem (`partials/footer_html.hbs` → `{{> footer_html}}`);
//! - `i18n/<locale>.toml`, flat `key = "text"` tables (`en` required, the fallback), used in
//!   templates as `{{t "key"}}` or `{{t "key" count=n}}`, and for the subject line.
//!
//! `Renderer::load` (in `template_files`) reads it and [`Renderer::from_sources`] checks all of it once (each template is rendered once with sample
//! data, so a missing partial is a load error naming the file). [`Renderer::render`] builds one
//! JSON context per digest ([`context::build`]) and renders both parts from it. The HTML registry
//! escapes HTML; the text registry escapes nothing and its output is wrapped at 72 columns.

pub mod content;
pub mod context;
pub mod excerpt;
pub mod i18n;
pub mod mailto;
pub mod wrap;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use handlebars::{
    Context, Handlebars, Helper, HelperDef, RenderErrorReason, ScopedJson, TemplateError,
};
use serde_json::Value;

use crate::model::{Digest, GroupId, ReplyToken, ThreadId};

pub use content::header_safe;
pub use excerpt::{Excerpt, ExcerptCache};
pub use i18n::Locales;
pub use mailto::reply_mailto;

/// Name of the default template pair.
pub const DEFAULT_TEMPLATE: &str = "digest";
/// Width the text part is wrapped at.
pub const TEXT_WIDTH: usize = 72;

/// Why templates could not be loaded or a digest not rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A file or directory could not be read.
    #[error("{}: {source}", .path.display())]
    Io {
        /// What was being read.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A template does not parse or fails on sample data.
    #[error("{}:{line}:{column}: {message}", .path.display())]
    Template {
        /// The template file.
        path: PathBuf,
        /// 1-based line (0 when Handlebars does not say).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// Handlebars' explanation.
        message: String,
    },
    /// A locale file is not a flat table of strings, or `en.toml` is missing.
    #[error("{}: {message}", .path.display())]
    Locale {
        /// The locale file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A digest asked for a template pair that is not in the directory.
    #[error("template `{name}` not found in {}: expected {name}.html.hbs and {name}.txt.hbs", .dir.display())]
    MissingTemplate {
        /// Template name.
        name: String,
        /// The templates directory.
        dir: PathBuf,
    },
    /// Rendering failed (a helper error; never missing data, which renders empty).
    #[error("rendering `{template}`: {message}")]
    Render {
        /// Template name and part.
        template: String,
        /// Handlebars' explanation.
        message: String,
    },
}

/// What a digest needs from outside the digest itself to be rendered.
#[derive(Debug, Clone, Copy)]
pub struct RenderContext<'a> {
    /// Organisation name shown in the digest.
    pub organisation: &'a str,
    /// Display names of groups by id (the id is shown when missing).
    pub group_names: &'a HashMap<GroupId, String>,
    /// Domain of reply addresses and of `digest@` commands.
    pub reply_domain: &'a str,
    /// Reply token of each thread in the digest (threads and highlights); a thread without one
    /// gets no reply link.
    pub reply_tokens: &'a HashMap<ThreadId, ReplyToken>,
    /// The `mailto:` (or https) unsubscribe link of this person.
    pub unsubscribe_mailto: &'a str,
    /// Characters of excerpt per post.
    pub excerpt_chars: usize,
    /// Excerpts already made in this run (each post's made once, whoever's digest shows it);
    /// `None` makes them for this digest only.
    pub excerpts: Option<&'a ExcerptCache>,
    /// Template pair to use ([`DEFAULT_TEMPLATE`] unless the role names another).
    pub template: &'a str,
    /// The person's signed preferences page link (`None`: no `[http]` key configured).
    pub preferences_url: Option<&'a str>,
    /// Display names of roles by name (config `title`; the name is shown when missing).
    pub role_titles: &'a HashMap<String, crate::model::LocalText>,
}

/// A rendered digest: the parts of a multipart/alternative message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedDigest {
    /// Subject line, header-safe (no CR, LF or control characters).
    pub subject: String,
    /// Plain-text part, wrapped at 72 columns.
    pub text: String,
    /// HTML part.
    pub html: String,
}

/// Loaded templates and locale strings. `Send + Sync`: share one per run.
pub struct Renderer {
    dir: PathBuf,
    html: Handlebars<'static>,
    text: Handlebars<'static>,
    locales: Arc<Locales>,
    /// Names of the complete template pairs, sorted.
    pairs: Vec<String>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("dir", &self.dir)
            .field("templates", &self.template_names())
            .field("locales", &self.locales.names())
            .finish()
    }
}

/// `{{t "key" name=value ...}}`: the locale string `key` of the digest's locale, placeholders
/// filled from the hash (`count=1` picks `key_one` when present).
struct Translate {
    locales: Arc<Locales>,
}

impl HelperDef for Translate {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut handlebars::RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, handlebars::RenderError> {
        let key = h
            .param(0)
            .and_then(|p| p.value().as_str())
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("t", 0))?;
        let locale = ctx
            .data()
            .get("locale")
            .and_then(Value::as_str)
            .unwrap_or(i18n::FALLBACK);
        let values: Vec<(&str, String)> = h
            .hash()
            .iter()
            .map(|(k, v)| {
                let v = match v.value() {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (*k, v)
            })
            .collect();
        let params: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let text = self.locales.table(locale).text(key, &params);
        Ok(ScopedJson::Derived(Value::String(text)))
    }
}

impl Renderer {
    /// The renderer of a template directory's contents (read by `template_files`, which
    /// also offers `Renderer::load`), with every template checked on sample data.
    pub fn from_sources(sources: &TemplateSources) -> Result<Renderer, RenderError> {
        let dir = sources.dir.as_path();
        let locales = Arc::new(Locales::from_files(&sources.locales_dir, &sources.locales)?);
        let mut html = Handlebars::new();
        let mut text = Handlebars::new();
        text.register_escape_fn(handlebars::no_escape);
        for hb in [&mut html, &mut text] {
            hb.set_strict_mode(false);
            hb.register_helper(
                "t",
                Box::new(Translate {
                    locales: Arc::clone(&locales),
                }),
            );
        }

        for (path, source) in &sources.partials {
            let Some(name) = partial_name(path) else {
                continue;
            };
            for hb in [&mut html, &mut text] {
                hb.register_partial(name, source)
                    .map_err(|e| template_error(path, &e))?;
            }
        }

        let mut names: Vec<String> = Vec::new();
        for (path, source) in &sources.templates {
            let Some((name, kind)) = template_name(path) else {
                continue;
            };
            let hb = match kind {
                TemplateKind::Html => &mut html,
                TemplateKind::Text => &mut text,
            };
            hb.register_template_string(name, source)
                .map_err(|e| template_error(path, &e))?;
            names.push(name.to_string());
        }

        let mut pairs: Vec<String> = html
            .get_templates()
            .keys()
            .filter(|n| names.contains(*n) && text.has_template(n))
            .cloned()
            .collect();
        pairs.sort();
        let renderer = Renderer {
            dir: dir.to_path_buf(),
            html,
            text,
            locales,
            pairs,
        };
        if !renderer.has_template(DEFAULT_TEMPLATE) {
            return Err(RenderError::MissingTemplate {
                name: DEFAULT_TEMPLATE.into(),
                dir: dir.to_path_buf(),
            });
        }
        renderer.check_with_sample_data()?;
        Ok(renderer)
    }

    /// The directory the templates came from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// True when both `name.html.hbs` and `name.txt.hbs` were loaded.
    pub fn has_template(&self, name: &str) -> bool {
        self.pairs.iter().any(|p| p == name)
    }

    /// Names of the complete template pairs, sorted.
    pub fn template_names(&self) -> Vec<String> {
        self.pairs.clone()
    }

    /// The locale strings.
    pub fn locales(&self) -> &Locales {
        &self.locales
    }

    /// The template data of `digest`: what [`Renderer::render`] feeds both templates.
    pub fn context_value(&self, digest: &Digest, ctx: &RenderContext<'_>) -> Value {
        let locale = self.locales.resolve(&digest.person.locale);
        context::build(digest, ctx, locale, self.locales.table(locale))
    }

    /// Renders `digest` with the template pair `ctx.template`.
    pub fn render(
        &self,
        digest: &Digest,
        ctx: &RenderContext<'_>,
    ) -> Result<RenderedDigest, RenderError> {
        if !self.has_template(ctx.template) {
            return Err(RenderError::MissingTemplate {
                name: ctx.template.to_string(),
                dir: self.dir.clone(),
            });
        }
        let value = self.context_value(digest, ctx);
        let subject = self.subject(digest, ctx);
        let (text, html) = self.render_value(ctx.template, value)?;
        Ok(RenderedDigest {
            subject,
            text,
            html,
        })
    }

    /// Renders template pair `template` from a prepared context value: returns (text, html),
    /// the text wrapped at [`TEXT_WIDTH`].
    pub fn render_value(
        &self,
        template: &str,
        value: Value,
    ) -> Result<(String, String), RenderError> {
        let (text, html) = self.render_bare(template, &Context::from(value))?;
        Ok((wrap::wrap(&text, TEXT_WIDTH), html))
    }

    /// Bare Handlebars: both templates of `template` rendered from one prepared context, nothing
    /// else (no wrapping); returns (text, html). The limit the digest benchmark compares with.
    pub fn render_bare(
        &self,
        template: &str,
        hctx: &Context,
    ) -> Result<(String, String), RenderError> {
        let html = self
            .html
            .render_with_context(template, hctx)
            .map_err(|e| render_error(template, "html", &e))?;
        let text = self
            .text
            .render_with_context(template, hctx)
            .map_err(|e| render_error(template, "txt", &e))?;
        Ok((text, html))
    }

    /// The subject line of `digest`, from the locale strings `subject` (with `count`,
    /// `highlights`, `organisation`), `subject_highlights` when only highlights, or
    /// `subject_empty`; `best_of_subject` (with `count`, `month`) for a best-of; header-safe.
    pub fn subject(&self, digest: &Digest, ctx: &RenderContext<'_>) -> String {
        let t = self.locales.table(&digest.person.locale);
        if ctx.template == crate::best_of::TEMPLATE {
            let count = (digest.highlights.len() + digest.more_highlights).to_string();
            let month = context::month_label(digest, t);
            return header_safe(&t.text(
                "best_of_subject",
                &[
                    ("count", &count),
                    ("month", &month),
                    ("organisation", ctx.organisation),
                ],
            ));
        }
        let count = (digest.threads.len() + digest.more_threads).to_string();
        let highlights = (digest.highlights.len() + digest.more_highlights).to_string();
        let key = if digest.threads.is_empty() {
            if digest.highlights.is_empty() {
                "subject_empty"
            } else {
                "subject_highlights"
            }
        } else {
            "subject"
        };
        let count_param = if key == "subject_highlights" {
            &highlights
        } else {
            &count
        };
        header_safe(&t.text(
            key,
            &[
                ("count", count_param),
                ("highlights", &highlights),
                ("organisation", ctx.organisation),
            ],
        ))
    }

    /// Renders every template pair once with a sample digest, so that a missing partial or a
    /// failing helper shows at load time, naming the file.
    fn check_with_sample_data(&self) -> Result<(), RenderError> {
        let sample = sample::digest();
        let tokens: HashMap<ThreadId, ReplyToken> = sample
            .threads
            .iter()
            .map(|t| (t.thread.id, ReplyToken::generate()))
            .collect();
        let groups = HashMap::new();
        let role_titles = HashMap::new();
        for name in &self.pairs {
            let ctx = RenderContext {
                organisation: "Sample",
                group_names: &groups,
                reply_domain: "replies.example.org",
                reply_tokens: &tokens,
                unsubscribe_mailto: "mailto:digest@replies.example.org?subject=unsubscribe",
                excerpt_chars: 100,
                excerpts: None,
                template: name,
                preferences_url: Some("https://digests.example.org/p/sample"),
                role_titles: &role_titles,
            };
            let value = self.context_value(&sample, &ctx);
            let hctx = Context::from(value);
            for (hb, part) in [(&self.html, "html"), (&self.text, "txt")] {
                hb.render_with_context(name, &hctx).map_err(|e| {
                    let file = match e.template_name.as_deref() {
                        Some(t) if !self.pairs.iter().any(|p| p == t) => {
                            format!("partials/{t}.hbs")
                        }
                        Some(t) => format!("{t}.{part}.hbs"),
                        None => format!("{name}.{part}.hbs"),
                    };
                    RenderError::Template {
                        path: self.dir.join(file),
                        line: e.line_no.unwrap_or(0),
                        column: e.column_no.unwrap_or(0),
                        message: e.reason().to_string(),
                    }
                })?;
            }
        }
        Ok(())
    }
}

/// The contents of a template directory: what [`Renderer::from_sources`] builds a renderer
/// from. Each list is in file-name order.
#[derive(Debug, Clone, Default)]
pub struct TemplateSources {
    /// The directory (named in errors).
    pub dir: PathBuf,
    /// `(path, text)` of each `partials/<name>.hbs`.
    pub partials: Vec<(PathBuf, String)>,
    /// `(path, text)` of each `<name>.html.hbs` and `<name>.txt.hbs`.
    pub templates: Vec<(PathBuf, String)>,
    /// The locale directory, `<dir>/i18n` (named in errors).
    pub locales_dir: PathBuf,
    /// `(path, text)` of each `i18n/<locale>.toml`.
    pub locales: Vec<(PathBuf, String)>,
}

/// Which part a template renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    /// `<name>.html.hbs`.
    Html,
    /// `<name>.txt.hbs`.
    Text,
}

/// The name and part of a template file (`digest.html.hbs` → `digest`, HTML); `None` for
/// other files.
pub fn template_name(path: &Path) -> Option<(&str, TemplateKind)> {
    let file = path.file_name()?.to_str()?;
    if let Some(n) = file.strip_suffix(".html.hbs") {
        Some((n, TemplateKind::Html))
    } else {
        file.strip_suffix(".txt.hbs")
            .map(|n| (n, TemplateKind::Text))
    }
}

/// The name of a partial file (`footer_txt.hbs` → `footer_txt`); `None` for other files.
pub fn partial_name(path: &Path) -> Option<&str> {
    path.file_name()?.to_str()?.strip_suffix(".hbs")
}

fn template_error(path: &Path, e: &TemplateError) -> RenderError {
    let (line, column) = e.pos().unwrap_or((0, 0));
    RenderError::Template {
        path: path.to_path_buf(),
        line,
        column,
        message: e.reason().to_string(),
    }
}

fn render_error(template: &str, part: &str, e: &handlebars::RenderError) -> RenderError {
    RenderError::Render {
        template: format!("{template}.{part}"),
        message: e.to_string(),
    }
}

mod sample {
    //! A small digest with every section filled, for checking templates at load time.

    use std::sync::Arc;

    use chrono::{Duration, TimeZone, Utc};

    use crate::model::{
        BodyFormat, Digest, DigestThread, Frequency, Highlight, Period, Person, Post, Thread,
    };

    pub(super) fn digest() -> Digest {
        let end = Utc
            .with_ymd_and_hms(2025, 1, 6, 7, 0, 0)
            .single()
            .unwrap_or_default();
        let thread = Thread {
            id: 1,
            group_id: "sample".into(),
            remote_id: "1".into(),
            title: "Sample thread".into(),
            url: "https://forum.example.org/t/1".into(),
            created: end - Duration::days(3),
        };
        let post = Post {
            id: 1,
            thread_id: 1,
            group_id: "sample".into(),
            remote_id: "1".into(),
            author_email: "a@example.org".into(),
            author_name: "A. Sample".into(),
            created: end - Duration::days(1),
            body: "Sample **body**".into(),
            body_format: BodyFormat::Markdown,
            tags: vec!["training".into()],
            likes: 1,
            reply_count: 0,
            best_answer: true,
            url: "https://forum.example.org/t/1#1".into(),
        };
        Digest {
            person: Person {
                email: "p@example.org".into(),
                name: "P. Sample".into(),
                roles: vec!["sample".into()],
                time_zone: chrono_tz::UTC,
                locale: "en".into(),
                frequency: Frequency::Weekly,
                matrix_id: None,
            },
            schedule: "sample".into(),
            period: Period {
                start: end - Duration::days(7),
                end,
            },
            threads: vec![DigestThread {
                thread: Arc::new(thread.clone()),
                new_posts: vec![Arc::new(post.clone())],
                participants: vec!["A. Sample".into()],
                score: 1.0,
            }],
            more_threads: 1,
            questions: vec![crate::model::Question {
                thread: Arc::new(thread.clone()),
                opener: Arc::new(post.clone()),
                waiting_days: 3,
                score: 1.0,
            }],
            more_questions: 1,
            highlights: vec![Highlight {
                post: Arc::new(post),
                thread: Arc::new(thread),
                role: "sample".into(),
                tag: "training".into(),
                score: 1.0,
            }],
            more_highlights: 1,
        }
    }
}

#[cfg(test)]
mod tests;
