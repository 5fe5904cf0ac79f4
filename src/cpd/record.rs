//! The CPD record (pure): from a person's posts and delivered highlights to dated entries, so
//! staff can hand in what they learned and contributed as continuing professional development.
//!
//! Per thread (in the period) a person wrote in but did not open, one entry: **answered a
//! question** when one of their posts was marked the best answer or was the first answer anyone
//! gave the opener (unless the forum marks the thread a question, tag `question`: then only the
//! accepted answer counts), otherwise **replied**, saying whether any of their posts came by email.
//! Every training highlight a sent digest delivered is an entry of its own.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::model::ThreadId;
use crate::store::cpd::{CpdHighlight, CpdPost};

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    /// A training highlight delivered in a digest.
    Highlight,
    /// Replied in someone else's thread.
    Reply,
    /// Answered someone's question (first answer, or the accepted/best answer).
    Answer,
}

impl EntryKind {
    /// The word in the CSV's `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Highlight => "training-highlight",
            EntryKind::Reply => "reply",
            EntryKind::Answer => "answer",
        }
    }

    /// The words in the readable record.
    pub fn label(self) -> &'static str {
        match self {
            EntryKind::Highlight => "training highlight",
            EntryKind::Reply => "replied",
            EntryKind::Answer => "answered a question",
        }
    }
}

/// One dated line of a CPD record.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Whose record.
    pub person_email: String,
    /// When (the first reply in the thread; the digest for a highlight).
    pub at: DateTime<Utc>,
    /// What.
    pub kind: EntryKind,
    /// The group id.
    pub group_id: String,
    /// The thread's title.
    pub title: String,
    /// The post's link.
    pub url: String,
    /// `email` when a reply came by email, `forum` otherwise; the role for a highlight.
    pub detail: String,
    /// Posts the person wrote in the thread in the period (0 for a highlight).
    pub posts: usize,
}

/// The entries of `posts` and `highlights`, by date (then person, then kind).
pub fn entries(posts: &[CpdPost], highlights: &[CpdHighlight]) -> Vec<Entry> {
    let mut threads: BTreeMap<(String, ThreadId), Entry> = BTreeMap::new();
    let mut by_email: BTreeMap<(String, ThreadId), bool> = BTreeMap::new();
    for p in posts {
        if p.person_email == p.opener_email {
            continue;
        }
        let answered = p.best_answer || (!p.opener_question && p.first_reply_id == Some(p.post_id));
        let key = (p.person_email.clone(), p.thread_id);
        *by_email.entry(key.clone()).or_default() |= p.by_email;
        let e = threads.entry(key).or_insert_with(|| Entry {
            person_email: p.person_email.clone(),
            at: p.created,
            kind: EntryKind::Reply,
            group_id: p.group_id.clone(),
            title: p.thread_title.clone(),
            url: p.url.clone(),
            detail: String::new(),
            posts: 0,
        });
        e.posts += 1;
        if answered && e.kind != EntryKind::Answer {
            e.kind = EntryKind::Answer;
            e.url = p.url.clone();
        }
    }
    let mut out: Vec<Entry> = threads
        .into_iter()
        .map(|(key, mut e)| {
            e.detail = if by_email.get(&key).copied().unwrap_or(false) {
                "email".into()
            } else {
                "forum".into()
            };
            e
        })
        .chain(highlights.iter().map(|h| Entry {
            person_email: h.person_email.clone(),
            at: h.at,
            kind: EntryKind::Highlight,
            group_id: h.group_id.clone(),
            title: h.thread_title.clone(),
            url: h.url.clone(),
            detail: h.role.clone(),
            posts: 0,
        }))
        .collect();
    out.sort_by(|a, b| {
        a.at.cmp(&b.at)
            .then(a.person_email.cmp(&b.person_email))
            .then(a.kind.cmp(&b.kind))
            .then(a.title.cmp(&b.title))
    });
    out
}

/// How many entries of each kind (highlights, replies, answers), and how many threads were
/// replied to by email.
pub fn totals(entries: &[Entry]) -> (usize, usize, usize, usize) {
    let count = |k: EntryKind| entries.iter().filter(|e| e.kind == k).count();
    let email = entries
        .iter()
        .filter(|e| e.kind != EntryKind::Highlight && e.detail == "email")
        .count();
    (
        count(EntryKind::Highlight),
        count(EntryKind::Reply),
        count(EntryKind::Answer),
        email,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0)
            .single()
            .unwrap_or_default()
            + Duration::hours(h)
    }

    fn post(id: i64, thread: i64, who: &str, opener: &str, first: i64, h: i64) -> CpdPost {
        CpdPost {
            person_email: who.into(),
            post_id: id,
            created: at(h),
            group_id: "g".into(),
            thread_id: thread,
            thread_title: format!("T{thread}"),
            url: format!("https://f/{id}"),
            best_answer: false,
            opener_email: opener.into(),
            opener_question: false,
            first_reply_id: Some(first),
            by_email: false,
        }
    }

    #[test]
    fn one_entry_per_thread_answers_replies_and_highlights() {
        let mut by_mail = post(5, 2, "ann", "cy", 4, 3);
        by_mail.by_email = true;
        let mut best = post(7, 3, "ann", "cy", 6, 4);
        best.best_answer = true;
        let posts = vec![
            // Ann opened thread 1 herself: not a reply.
            post(1, 1, "ann", "ann", 2, 0),
            // Thread 2: Ann replied twice, after Bob answered first; once by email.
            post(3, 2, "ann", "cy", 4, 2),
            by_mail,
            // Thread 3: Ann's later post was marked the best answer.
            best,
            // Thread 4: Ann gave the first answer.
            post(8, 4, "ann", "dee", 8, 5),
            // Thread 5, a marked question: the first reply is no answer until accepted.
            CpdPost {
                opener_question: true,
                ..post(10, 5, "ann", "dee", 10, 6)
            },
        ];
        let highlights = vec![CpdHighlight {
            person_email: "ann".into(),
            at: at(1),
            role: "nurse".into(),
            post_id: 9,
            group_id: "g".into(),
            thread_title: "Guide".into(),
            url: "https://f/9".into(),
        }];
        let got = entries(&posts, &highlights);
        let kinds: Vec<(EntryKind, &str, &str, usize)> = got
            .iter()
            .map(|e| (e.kind, e.title.as_str(), e.detail.as_str(), e.posts))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (EntryKind::Highlight, "Guide", "nurse", 0),
                (EntryKind::Reply, "T2", "email", 2),
                (EntryKind::Answer, "T3", "forum", 1),
                (EntryKind::Answer, "T4", "forum", 1),
                (EntryKind::Reply, "T5", "forum", 1),
            ]
        );
        assert_eq!(totals(&got), (1, 2, 2, 1));
    }
}
