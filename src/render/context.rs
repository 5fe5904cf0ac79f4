//! Digest → the one JSON value both templates render from.
//!
//! Everything untrusted is reduced here to plain text (escaped by the HTML template), to a
//! checked link, or to an excerpt cleaned by the sanitiser (`excerpt_html`, the one field an
//! HTML template inserts unescaped); the templates never see a raw body. Field names are the
//! template contract, documented in `templates/README.md`.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::model::{Digest, DigestThread, Highlight, Post, Question};

use super::content::{header_safe, safe_url};
use super::excerpt::Excerpt;
use super::i18n::LocaleTable;
use super::mailto::{command_mailto, reply_mailto};
use super::RenderContext;

/// Names listed before "and N others" in a thread's participants.
pub const MAX_NAMED: usize = 3;

/// Builds the template data of `digest` for `locale` (a resolved locale key).
pub fn build(digest: &Digest, ctx: &RenderContext<'_>, locale: &str, t: &LocaleTable) -> Value {
    let tz = digest.person.time_zone;
    let threads: Vec<Value> = digest
        .threads
        .iter()
        .map(|dt| thread_item(dt, ctx, t, tz))
        .collect();
    let highlights: Vec<Value> = digest
        .highlights
        .iter()
        .map(|h| highlight_item(h, ctx, locale, t, tz))
        .collect();
    let questions: Vec<Value> = digest
        .questions
        .iter()
        .map(|q| question_item(q, ctx, t, tz))
        .collect();
    let thread_total = digest.threads.len() + digest.more_threads;
    let preheader = digest
        .threads
        .iter()
        .map(|dt| header_safe(&dt.thread.title))
        .chain(
            digest
                .highlights
                .iter()
                .map(|h| header_safe(&h.thread.title)),
        )
        .take(3)
        .collect::<Vec<_>>()
        .join(" · ");
    let domain = ctx.reply_domain;
    let mut m = Map::new();
    m.insert("locale".into(), json!(locale));
    m.insert("organisation".into(), json!(header_safe(ctx.organisation)));
    m.insert(
        "person".into(),
        json!({ "name": header_safe(&digest.person.name), "email": digest.person.email }),
    );
    let frequency = digest.person.frequency.to_string();
    m.insert(
        "frequency_label".into(),
        json!(t.text(&format!("frequency_{frequency}"), &[])),
    );
    m.insert("frequency".into(), json!(frequency));
    m.insert(
        "period".into(),
        json!({
            "start": t.day(digest.period.start, tz),
            "end": t.day(digest.period.end, tz),
        }),
    );
    m.insert("preheader".into(), json!(preheader));
    m.insert("thread_total".into(), json!(thread_total));
    m.insert("threads".into(), Value::Array(threads));
    m.insert("more_threads".into(), json!(digest.more_threads));
    m.insert(
        "has_highlights".into(),
        json!(!digest.highlights.is_empty()),
    );
    m.insert("highlights".into(), Value::Array(highlights));
    m.insert("more_highlights".into(), json!(digest.more_highlights));
    m.insert("has_questions".into(), json!(!digest.questions.is_empty()));
    m.insert("questions".into(), Value::Array(questions));
    m.insert("more_questions".into(), json!(digest.more_questions));
    m.insert("is_empty".into(), json!(digest.is_empty()));
    m.insert("commands_address".into(), json!(format!("digest@{domain}")));
    m.insert(
        "commands".into(),
        json!({
            "daily": command_mailto(domain, "daily"),
            "weekly": command_mailto(domain, "weekly"),
            "pause": command_mailto(domain, "pause"),
        }),
    );
    m.insert(
        "unsubscribe_url".into(),
        json!(safe_url(ctx.unsubscribe_mailto)),
    );
    m.insert(
        "preferences_url".into(),
        json!(ctx.preferences_url.and_then(safe_url)),
    );
    if ctx.template == crate::best_of::TEMPLATE {
        m.insert("best_of".into(), json!({ "month": month_label(digest, t) }));
    }
    Value::Object(m)
}

/// The calendar month a best-of digest covers, in words ("November 2026"): the month of the
/// middle of its period, which is that month in every time zone.
pub fn month_label(digest: &Digest, t: &LocaleTable) -> String {
    use chrono::Datelike;
    let p = digest.period;
    let middle = p.start + (p.end - p.start) / 2;
    t.month(middle.year(), middle.month())
}

/// The excerpts of `post`: from the run's cache when there is one.
fn excerpt_of(post: &Post, ctx: &RenderContext<'_>) -> Arc<Excerpt> {
    match ctx.excerpts {
        Some(cache) => cache.get(post, ctx.excerpt_chars),
        None => Arc::new(Excerpt::of(post, ctx.excerpt_chars)),
    }
}

fn latest(dt: &DigestThread) -> Option<&Post> {
    dt.new_posts
        .iter()
        .map(|p| &**p)
        .max_by_key(|p| (p.created, p.id))
}

fn thread_item(
    dt: &DigestThread,
    ctx: &RenderContext<'_>,
    t: &LocaleTable,
    tz: chrono_tz::Tz,
) -> Value {
    let th = &dt.thread;
    let group = ctx
        .group_names
        .get(&th.group_id)
        .map_or(th.group_id.as_str(), String::as_str);
    let title = header_safe(&th.title);
    let reply_url = ctx
        .reply_tokens
        .get(&th.id)
        .map(|tok| reply_mailto(tok, ctx.reply_domain, &th.title));
    let latest = latest(dt).map(|p| {
        let excerpt = excerpt_of(p, ctx);
        json!({
            "author": header_safe(&p.author_name),
            "date": t.date(p.created, tz),
            "excerpt": &excerpt.text,
            "excerpt_html": &excerpt.html,
            "url": safe_url(&p.url),
        })
    });
    let likes: u64 = dt.new_posts.iter().map(|p| u64::from(p.likes)).sum();
    let names: Vec<String> = dt.participants.iter().map(|n| header_safe(n)).collect();
    json!({
        "id": th.id,
        "group": header_safe(group),
        "title": title,
        "url": safe_url(&th.url),
        "reply_url": reply_url,
        "participants": t.people(&names, MAX_NAMED),
        "participant_count": names.len(),
        "new_count": dt.new_posts.len(),
        "likes": likes,
        "latest": latest,
    })
}

fn highlight_item(
    h: &Highlight,
    ctx: &RenderContext<'_>,
    locale: &str,
    t: &LocaleTable,
    tz: chrono_tz::Tz,
) -> Value {
    let group = ctx
        .group_names
        .get(&h.thread.group_id)
        .map_or(h.thread.group_id.as_str(), String::as_str);
    let reply_url = ctx
        .reply_tokens
        .get(&h.thread.id)
        .map(|tok| reply_mailto(tok, ctx.reply_domain, &h.thread.title));
    let excerpt = excerpt_of(&h.post, ctx);
    let role = ctx
        .role_titles
        .get(&h.role)
        .map_or(h.role.as_str(), |title| title.get(locale));
    json!({
        "role": header_safe(role),
        "role_id": header_safe(&h.role),
        "tag": header_safe(&h.tag),
        "group": header_safe(group),
        "title": header_safe(&h.thread.title),
        "author": header_safe(&h.post.author_name),
        "date": t.date(h.post.created, tz),
        "excerpt": &excerpt.text,
        "excerpt_html": &excerpt.html,
        "url": safe_url(&h.post.url).or_else(|| safe_url(&h.thread.url)),
        "thread_url": safe_url(&h.thread.url),
        "reply_url": reply_url,
        "likes": h.post.likes,
        "best_answer": h.post.best_answer,
        "nominated": h.tag == crate::digest::rank::NOMINATED_LABEL,
    })
}

fn question_item(
    q: &Question,
    ctx: &RenderContext<'_>,
    t: &LocaleTable,
    tz: chrono_tz::Tz,
) -> Value {
    let th = &q.thread;
    let group = ctx
        .group_names
        .get(&th.group_id)
        .map_or(th.group_id.as_str(), String::as_str);
    let reply_url = ctx
        .reply_tokens
        .get(&th.id)
        .map(|tok| reply_mailto(tok, ctx.reply_domain, &th.title));
    let excerpt = excerpt_of(&q.opener, ctx);
    json!({
        "id": th.id,
        "group": header_safe(group),
        "title": header_safe(&th.title),
        "author": header_safe(&q.opener.author_name),
        "date": t.date(q.opener.created, tz),
        "waiting_days": q.waiting_days,
        "excerpt": &excerpt.text,
        "excerpt_html": &excerpt.html,
        "url": safe_url(&th.url).or_else(|| safe_url(&q.opener.url)),
        "reply_url": reply_url,
    })
}
