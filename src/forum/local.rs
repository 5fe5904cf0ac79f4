//! The built-in forum (`forum = local`): threads and posts in digestd's own SQLite file.
//!
//! It exists so digestd runs on a bare machine: admins add posts with `digestd post` or
//! `digestd import`, replies by email land here, and collection copies them into the store like
//! any other forum. Its tables (`local_threads`, `local_posts`) are separate from the store's
//! copy (`threads`, `posts`): this module plays the forum, [`crate::store`] the reader.
//!
//! Ids: a thread's and a post's remote ids are their local row ids as text; the fetch cursor is
//! the last local post id seen. Posting is idempotent on the idempotency key (the Message-ID of
//! an inbound reply): the second attempt returns the post made by the first.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::config::Config;
use crate::forum::{Author, Cursor, FetchBatch, FetchedPost, Forum, ForumError, Posted};
use crate::model::{normalize_email, BodyFormat, Group, Post, Thread};
use crate::store::db::{params, Db, Exec, Row, Tx};
use crate::store::{from_db, tags_from_db, tags_to_db, to_db, Store, StoreError, StoreLocation};

/// A post to add through `digestd post`.
#[derive(Debug, Clone)]
pub struct NewPost {
    /// Group id.
    pub group: String,
    /// Author address.
    pub author: String,
    /// Existing thread id, or `None` for a new thread.
    pub thread: Option<String>,
    /// Title of a new thread.
    pub title: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Markdown body.
    pub body: String,
}

/// The built-in forum over its own connection to the store (its tables live beside the
/// store's own, in the SQLite file or the PostgreSQL database).
pub struct LocalForum {
    db: std::sync::Mutex<Db>,
    forum_url: String,
}

impl std::fmt::Debug for LocalForum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalForum")
            .field("forum_url", &self.forum_url)
            .finish()
    }
}

/// A thread of the built-in forum, as `digestd thread` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalThread {
    /// Local thread id.
    pub id: i64,
    /// Group id.
    pub group_id: String,
    /// Title.
    pub title: String,
    /// When it was opened.
    pub created: DateTime<Utc>,
    /// Its posts, oldest first (ids are local; `thread_id` is the local thread id).
    pub posts: Vec<Post>,
}

/// Which thread a post goes into.
enum Target<'a> {
    /// An existing local thread (already checked to be in the group).
    Existing(i64),
    /// A new thread with this title (and import key, for `import`).
    New {
        title: &'a str,
        import_key: Option<&'a str>,
    },
}

/// Everything one post insert needs.
struct Insert<'a> {
    group_id: &'a str,
    target: Target<'a>,
    author_email: &'a str,
    author_name: &'a str,
    created: i64,
    body: &'a str,
    tags: String,
    likes: u32,
    best_answer: bool,
    key: Option<&'a str>,
}

/// What an insert did: (post id, thread id, newly inserted).
struct Inserted {
    post_id: i64,
    thread_id: i64,
    new: bool,
}

/// Inserts one post (and its new thread), unless its idempotency key is already used: then the
/// existing post comes back with `new: false`. Runs inside the caller's transaction.
fn insert_post(conn: &mut Tx<'_>, ins: &Insert<'_>) -> Result<Inserted, StoreError> {
    // A new thread is only opened for a new post; an existing thread can take the
    // insert-or-ignore path below, which saves a lookup per post on bulk imports.
    if matches!(ins.target, Target::New { .. }) {
        if let Some(found) = find_by_key(conn, ins.key)? {
            return Ok(found);
        }
    }
    let thread_id = match ins.target {
        Target::Existing(id) => id,
        Target::New { title, import_key } => conn.query_row(
            "INSERT INTO local_threads (group_id, title, created, import_key)
             VALUES (?1, ?2, ?3, ?4) RETURNING id",
            params![ins.group_id, title, ins.created, import_key],
            |r| r.get(0),
        )?,
    };
    let post_id: Option<i64> = conn.query_opt(
        "INSERT INTO local_posts (thread_id, group_id, author_email, author_name, created,
            body, tags, likes, best_answer, idempotency_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(idempotency_key) DO NOTHING RETURNING id",
        params![
            thread_id,
            ins.group_id,
            ins.author_email,
            ins.author_name,
            ins.created,
            ins.body,
            ins.tags,
            ins.likes,
            ins.best_answer,
            ins.key
        ],
        |r| r.get(0),
    )?;
    match post_id {
        Some(post_id) => Ok(Inserted {
            post_id,
            thread_id,
            new: true,
        }),
        // The key was taken: the earlier post stands.
        None => find_by_key(conn, ins.key)?.ok_or_else(|| StoreError::NoRow("local_posts".into())),
    }
}

/// The post already made with idempotency key `key`, if any (`new: false`).
fn find_by_key(conn: &mut Tx<'_>, key: Option<&str>) -> Result<Option<Inserted>, StoreError> {
    let Some(key) = key else {
        return Ok(None);
    };
    conn.query_opt(
        "SELECT id, thread_id FROM local_posts WHERE idempotency_key = ?1",
        params![key],
        |r| {
            Ok(Inserted {
                post_id: r.get(0)?,
                thread_id: r.get(1)?,
                new: false,
            })
        },
    )
}

/// The group of a local thread, if it exists.
fn thread_group(conn: &mut Tx<'_>, id: i64) -> Result<Option<String>, StoreError> {
    conn.query_opt(
        "SELECT group_id FROM local_threads WHERE id = ?1",
        params![id],
        |r| r.get(0),
    )
}

/// A default thread title: the body's first non-empty line without Markdown heading marks,
/// at most 200 characters.
pub fn default_title(body: &str) -> String {
    let line = body
        .lines()
        .map(|l| l.trim().trim_start_matches('#').trim())
        .find(|l| !l.is_empty())
        .unwrap_or("(untitled)");
    line.chars().take(200).collect()
}

fn clean_tags(tags: &[String]) -> String {
    tags_to_db(tags)
}

impl LocalForum {
    /// Opens the built-in forum in the SQLite store file at `path` (creating and migrating
    /// it); links point at `forum_url` (`<forum_url>/t/<thread>#p<post>`).
    pub fn open(path: &Path, forum_url: &str) -> Result<LocalForum, StoreError> {
        LocalForum::open_at(&StoreLocation::File(path.to_path_buf()), forum_url)
    }

    /// Opens the built-in forum in the store at `location` (a SQLite file or a PostgreSQL
    /// database: its tables live beside the store's own).
    pub fn open_at(location: &StoreLocation, forum_url: &str) -> Result<LocalForum, StoreError> {
        let store = Store::open_at(location)?;
        Ok(LocalForum {
            db: std::sync::Mutex::new(store.db),
            forum_url: forum_url.trim_end_matches('/').to_string(),
        })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Db> {
        // A panic while holding the lock leaves no half-done SQL behind (transactions roll
        // back on drop), so a poisoned lock is safe to reuse.
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Link to a thread.
    pub fn thread_url(&self, thread_id: i64) -> String {
        format!("{}/t/{thread_id}", self.forum_url)
    }

    /// Link to a post.
    pub fn post_url(&self, thread_id: i64, post_id: i64) -> String {
        format!("{}/t/{thread_id}#p{post_id}", self.forum_url)
    }

    fn posted(&self, ins: &Inserted) -> Posted {
        Posted {
            remote_post_id: ins.post_id.to_string(),
            remote_thread_id: ins.thread_id.to_string(),
            url: self.post_url(ins.thread_id, ins.post_id),
        }
    }

    /// Adds a post with everything the built-in forum keeps (tags, likes, best answer), into
    /// thread `thread` of `group` or, with `None`, into a new thread titled `title`.
    /// Idempotent on `idempotency_key` when one is given.
    #[allow(clippy::too_many_arguments)]
    pub fn add_post(
        &self,
        group: &str,
        thread: Option<i64>,
        title: &str,
        author: &Author,
        body: &str,
        tags: &[String],
        created: DateTime<Utc>,
        idempotency_key: Option<&str>,
    ) -> Result<Posted, ForumError> {
        if body.trim().is_empty() {
            return Err(ForumError::Refused("the post is empty".into()));
        }
        let created = to_db(created).map_err(|e| ForumError::Refused(e.to_string()))?;
        let key = idempotency_key.filter(|k| !k.is_empty());
        let email = normalize_email(&author.email);
        let db = self.db();
        let ins = db.write(|tx| {
            // A post already made with this key wins (a retried reply), wherever it went.
            if let Some(found) = find_by_key(tx, key)? {
                return Ok(found);
            }
            let target = match thread {
                Some(id) => match thread_group(tx, id)? {
                    Some(g) if g == group => Target::Existing(id),
                    _ => {
                        return Err(ForumError::Refused(format!(
                            "no thread {id} in group {group}"
                        )))
                    }
                },
                None => {
                    if title.trim().is_empty() {
                        return Err(ForumError::Refused("a new thread needs a title".into()));
                    }
                    Target::New {
                        title: title.trim(),
                        import_key: None,
                    }
                }
            };
            Ok(insert_post(
                tx,
                &Insert {
                    group_id: group,
                    target,
                    author_email: &email,
                    author_name: author.name.trim(),
                    created,
                    body,
                    tags: clean_tags(tags),
                    likes: 0,
                    best_answer: tags.iter().any(|t| t.eq_ignore_ascii_case("best-answer")),
                    key,
                },
            )?)
        })?;
        Ok(self.posted(&ins))
    }

    /// A local thread with its posts (`None`: no such thread).
    pub fn local_thread(&self, id: i64) -> Result<Option<LocalThread>, ForumError> {
        let db = self.db();
        let mut conn = db.auto()?;
        let head: Option<(String, String, i64)> = conn.query_opt(
            "SELECT group_id, title, created FROM local_threads WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let Some((group_id, title, created)) = head else {
            return Ok(None);
        };
        let posts = conn.query_map(
            "SELECT id, thread_id, group_id, author_email, author_name, created, body, tags,
                likes, best_answer
             FROM local_posts WHERE thread_id = ?1 ORDER BY id",
            params![id],
            |r| self.post_from_row(r),
        )?;
        Ok(Some(LocalThread {
            id,
            group_id,
            title,
            created: from_db(created),
            posts,
        }))
    }

    /// Maps a `local_posts` row (columns as in [`LocalForum::local_thread`]) to a [`Post`].
    fn post_from_row(&self, r: &Row) -> Result<Post, StoreError> {
        let id: i64 = r.get(0)?;
        let thread_id: i64 = r.get(1)?;
        let tags: String = r.get(7)?;
        Ok(Post {
            id,
            thread_id,
            group_id: r.get(2)?,
            remote_id: id.to_string(),
            author_email: r.get(3)?,
            author_name: r.get(4)?,
            created: from_db(r.get(5)?),
            body: r.get(6)?,
            body_format: BodyFormat::Markdown,
            tags: tags_from_db(&tags),
            likes: r.get(8)?,
            reply_count: 0,
            best_answer: r.get(9)?,
            url: self.post_url(thread_id, id),
        })
    }
}

impl Forum for LocalForum {
    fn fetch_since(
        &self,
        group: &Group,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<FetchBatch, ForumError> {
        let after: i64 = match cursor {
            None => 0,
            Some(c) if c.0.is_empty() => 0,
            Some(c) => {
                c.0.parse()
                    .map_err(|_| ForumError::Refused(format!("not a local cursor: {:?}", c.0)))?
            }
        };
        let limit = limit.clamp(1, 100_000);
        let db = self.db();
        let mut conn = db.auto()?;
        let mut posts: Vec<Post> = conn.query_map(
            "SELECT id, thread_id, group_id, author_email, author_name, created, body, tags,
                likes, best_answer
             FROM local_posts WHERE group_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            params![group.id, after, limit as i64 + 1],
            |r| self.post_from_row(r),
        )?;
        let more = posts.len() > limit;
        posts.truncate(limit);
        let next = posts.last().map_or(after, |p| p.id);
        let mut seen = HashSet::new();
        let mut threads = Vec::new();
        for p in &posts {
            if seen.insert(p.thread_id) {
                let t = conn.query_row(
                    "SELECT id, group_id, title, created FROM local_threads WHERE id = ?1",
                    params![p.thread_id],
                    |r| {
                        let id: i64 = r.get(0)?;
                        Ok(Thread {
                            id,
                            group_id: r.get(1)?,
                            remote_id: id.to_string(),
                            title: r.get(2)?,
                            url: self.thread_url(id),
                            created: from_db(r.get(3)?),
                        })
                    },
                )?;
                threads.push(t);
            }
        }
        Ok(FetchBatch {
            threads,
            posts: posts
                .into_iter()
                .map(|post| FetchedPost {
                    thread_remote_id: post.thread_id.to_string(),
                    post,
                })
                .collect(),
            next_cursor: Cursor(next.to_string()),
            more,
        })
    }

    fn post_reply(
        &self,
        group: &Group,
        thread_remote_id: &str,
        author: &Author,
        body: &str,
        idempotency_key: &str,
    ) -> Result<Posted, ForumError> {
        let id: i64 = thread_remote_id
            .trim()
            .parse()
            .map_err(|_| ForumError::Refused(format!("not a thread id: {thread_remote_id:?}")))?;
        self.add_post(
            &group.id,
            Some(id),
            "",
            author,
            body,
            &[],
            Utc::now(),
            Some(idempotency_key),
        )
    }

    fn create_thread(
        &self,
        group: &Group,
        author: &Author,
        title: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<Posted, ForumError> {
        let title = if title.trim().is_empty() {
            default_title(body)
        } else {
            title.trim().chars().take(200).collect()
        };
        self.add_post(
            &group.id,
            None,
            &title,
            author,
            body,
            &[],
            Utc::now(),
            Some(idempotency_key),
        )
    }
}

/// One line of an import file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImportRecord {
    /// Group id.
    pub group: String,
    /// Thread key: records with the same group and key land in the same thread (also across
    /// imports); an unknown key opens a new thread.
    pub thread: String,
    /// Title of the thread when this record opens it (default: the body's first line).
    #[serde(default)]
    pub title: Option<String>,
    /// Author address.
    pub author: String,
    /// Author name (default: the configured person's name, else the address's local part).
    #[serde(default)]
    pub author_name: Option<String>,
    /// When it was written (default: now).
    #[serde(default)]
    pub created: Option<DateTime<Utc>>,
    /// Markdown body.
    pub body: String,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Likes.
    #[serde(default)]
    pub likes: u32,
    /// Marked best answer.
    #[serde(default)]
    pub best_answer: bool,
}

/// Why an import was refused (nothing was imported).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A record is wrong.
    #[error("line {line}: {message}")]
    Record {
        /// 1-based line (or record number).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Imports records (numbered 1, 2, ...) into the built-in forum in ONE transaction: all or
/// nothing. A record whose `created` is given is keyed by its content, so importing the same
/// records twice adds nothing the second time. Returns the number of posts added.
pub fn import_records<I>(store: &mut Store, records: I) -> Result<usize, ImportError>
where
    I: IntoIterator<Item = ImportRecord>,
{
    import_numbered(
        store,
        records.into_iter().enumerate().map(|(i, r)| (i + 1, r)),
    )
}

fn import_numbered<I>(store: &mut Store, records: I) -> Result<usize, ImportError>
where
    I: Iterator<Item = (usize, ImportRecord)>,
{
    let now = Utc::now();
    store.db.write(|tx| {
        let mut threads: HashMap<(String, String), i64> = HashMap::new();
        let mut opened: Vec<i64> = Vec::new();
        let mut added = 0;
        for (line, rec) in records {
            let bad = |message: String| ImportError::Record { line, message };
            let group = rec.group.trim();
            if group.is_empty() {
                return Err(bad("\"group\" is empty".into()));
            }
            let email = normalize_email(&rec.author);
            if !email.contains('@') {
                return Err(bad(format!(
                    "\"author\" is not an address: {:?}",
                    rec.author
                )));
            }
            if rec.body.trim().is_empty() {
                return Err(bad("\"body\" is empty".into()));
            }
            let name = rec
                .author_name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_string());
            let created_at = rec.created.unwrap_or(now);
            let created = to_db(created_at).map_err(|e| bad(e.to_string()))?;
            let key = rec.created.map(|_| {
                let mut h = Sha256::new();
                for part in [
                    group,
                    rec.thread.as_str(),
                    email.as_str(),
                    rec.body.as_str(),
                ] {
                    h.update(part.as_bytes());
                    h.update([0]);
                }
                h.update(created.to_be_bytes());
                format!("import:{}", hex::encode(h.finalize()))
            });
            let map_key = (group.to_string(), rec.thread.clone());
            let known = match threads.get(&map_key) {
                Some(id) => Some(*id),
                None => tx.query_opt(
                    "SELECT id FROM local_threads WHERE group_id = ?1 AND import_key = ?2",
                    params![group, rec.thread],
                    |r| r.get(0),
                )?,
            };
            let title = match rec.title.as_deref().map(str::trim) {
                Some(t) if !t.is_empty() => t.chars().take(200).collect(),
                _ => default_title(&rec.body),
            };
            let target = match known {
                Some(id) => Target::Existing(id),
                None => Target::New {
                    title: &title,
                    import_key: Some(&rec.thread),
                },
            };
            let ins = insert_post(
                tx,
                &Insert {
                    group_id: group,
                    target,
                    author_email: &email,
                    author_name: &name,
                    created,
                    body: &rec.body,
                    tags: clean_tags(&rec.tags),
                    likes: rec.likes,
                    best_answer: rec.best_answer,
                    key: key.as_deref(),
                },
            )?;
            if known.is_none() {
                opened.push(ins.thread_id);
            }
            threads.insert(map_key, ins.thread_id);
            if ins.new {
                added += 1;
            }
        }
        // A thread opened by this import starts at its earliest post, whatever the line order.
        for id in opened {
            tx.execute(
                "UPDATE local_threads SET created =
                (SELECT MIN(created) FROM local_posts WHERE thread_id = ?1) WHERE id = ?1",
                params![id],
            )?;
        }
        Ok(added)
    })
}

/// `digestd post`.
pub fn post_command(config: &Config, post: NewPost) -> anyhow::Result<Posted> {
    let group = config.group(&post.group).with_context(|| {
        format!(
            "unknown group {:?} (see [[groups]] in the config)",
            post.group
        )
    })?;
    let person = config.person(&post.author).with_context(|| {
        format!(
            "{:?} is not a configured person: only people in the config may post",
            post.author
        )
    })?;
    if post.body.trim().is_empty() {
        anyhow::bail!("the body (read from stdin) is empty");
    }
    let thread = post
        .thread
        .as_deref()
        .map(|t| {
            t.trim()
                .parse::<i64>()
                .with_context(|| format!("--thread {t:?} is not a thread id"))
        })
        .transpose()?;
    let title = match post.title.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => t.chars().take(200).collect(),
        _ => default_title(&post.body),
    };
    let forum = LocalForum::open_at(&config.store_location(), &config.forum_url)
        .context("opening the store")?;
    let tags: Vec<String> = post.tags.iter().map(|t| t.trim().to_lowercase()).collect();
    let author = Author {
        email: person.email.clone(),
        name: person.name.clone(),
    };
    let posted = forum.add_post(
        &group.id,
        thread,
        &title,
        &author,
        &post.body,
        &tags,
        Utc::now(),
        None,
    )?;
    Ok(posted)
}

/// `digestd import`: returns the number of posts loaded.
pub fn import_command(config: &Config, file: &Path) -> anyhow::Result<usize> {
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let people = config.people_index();
    let mut records = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let n = i + 1;
        let line = line.with_context(|| format!("{}: line {n}: reading", file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let mut rec: ImportRecord = serde_json::from_str(&line).map_err(|e| {
            let msg = e.to_string();
            let pos = format!(" at line {} column {}", e.line(), e.column());
            anyhow::anyhow!(
                "{}: line {n}, column {}: not a valid post record: {}",
                file.display(),
                e.column(),
                msg.strip_suffix(&pos).unwrap_or(&msg)
            )
        })?;
        if config.group(rec.group.trim()).is_none() {
            anyhow::bail!(
                "{}: line {n}: unknown group {:?} (see [[groups]] in the config)",
                file.display(),
                rec.group
            );
        }
        if rec
            .author_name
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
        {
            if let Some(p) = people.get(&rec.author) {
                rec.author_name = Some(p.name.clone());
            }
        }
        records.push((n, rec));
    }
    let mut store = Store::open_at(&config.store_location()).context("opening the store")?;
    import_numbered(&mut store, records.into_iter())
        .with_context(|| format!("importing {} (nothing was imported)", file.display()))
}

/// `digestd thread`: the thread's posts as text.
pub fn thread_command(config: &Config, id: &str) -> anyhow::Result<String> {
    let n: i64 = id
        .trim()
        .parse()
        .with_context(|| format!("{id:?} is not a thread id"))?;
    let forum = LocalForum::open_at(&config.store_location(), &config.forum_url)
        .context("opening the store")?;
    let thread = forum
        .local_thread(n)?
        .with_context(|| format!("no thread {n} in the built-in forum"))?;
    Ok(format_thread(&thread, &forum.thread_url(n)))
}

/// Formats a thread for a terminal: title, then each post (author, time, tags, body).
pub fn format_thread(t: &LocalThread, url: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", t.title);
    let _ = writeln!(out, "thread {} in group {} · {url}", t.id, t.group_id);
    for p in &t.posts {
        let _ = writeln!(out);
        let _ = write!(
            out,
            "--- #{} {} <{}> · {}",
            p.id,
            p.author_name,
            p.author_email,
            p.created.format("%Y-%m-%d %H:%M UTC")
        );
        if !p.tags.is_empty() {
            let _ = write!(out, " · tags: {}", p.tags.join(", "));
        }
        if p.likes > 0 {
            let _ = write!(out, " · {} likes", p.likes);
        }
        if p.best_answer {
            let _ = write!(out, " · best answer");
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", p.body.trim_end());
    }
    out
}

#[cfg(test)]
mod tests;
