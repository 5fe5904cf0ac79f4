//! The engagement report's reads (every post, told apart by whether it came in by email; the
//! people events in a time range) and the people events' one writer.

use std::collections::HashSet;

use super::db::{params, Exec};
use chrono::{DateTime, Utc};

use super::{from_db, now_db, to_db, Store, StoreError};
use crate::report::facts::{PersonEvent, PersonEventKind, PostFact};

/// Records that `email` did `kind` (`detail`: the schedule of an opt-out), now.
pub(crate) fn record_person_event(
    conn: &mut impl Exec,
    email: &str,
    kind: PersonEventKind,
    detail: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO person_events (email, kind, detail, at) VALUES (?1, ?2, ?3, ?4)",
        params![email, kind.as_str(), detail, now_db()],
    )?;
    Ok(())
}

impl Store {
    /// Every post written up to `until`, oldest first, each marked when it came in by email
    /// (an inbound message digestd posted as it, in its group).
    pub fn engagement_posts(&self, until: DateTime<Utc>) -> Result<Vec<PostFact>, StoreError> {
        let mut db = self.db.auto()?;
        let by_email: Vec<(Option<String>, String)> = db.query_map(
            "SELECT posted_group_id, posted_remote_id FROM inbound_messages
             WHERE status = 'posted' AND posted_remote_id IS NOT NULL",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        // Rows posted before the group was recorded match on the post's id alone.
        let in_group: HashSet<(&str, &str)> = by_email
            .iter()
            .filter_map(|(g, id)| g.as_deref().map(|g| (g, id.as_str())))
            .collect();
        let anywhere: HashSet<&str> = by_email
            .iter()
            .filter(|(g, _)| g.is_none())
            .map(|(_, id)| id.as_str())
            .collect();
        let rows = db.query_map(
            "SELECT id, thread_id, group_id, author_email, created, remote_id, tags, best_answer
             FROM posts WHERE created <= ?1 ORDER BY created, id",
            params![to_db(until)?],
            |r| {
                Ok((
                    r.get::<i64>(0)?,
                    r.get::<i64>(1)?,
                    r.get::<String>(2)?,
                    r.get::<String>(3)?,
                    r.get::<i64>(4)?,
                    r.get::<String>(5)?,
                    r.get::<String>(6)?,
                    r.get::<bool>(7)?,
                ))
            },
        )?;
        let mut posts = Vec::new();
        for row in rows {
            let (post_id, thread_id, group_id, author_email, created, remote_id, tags, best) = row;
            let by_email = in_group.contains(&(group_id.as_str(), remote_id.as_str()))
                || anywhere.contains(remote_id.as_str());
            posts.push(PostFact {
                post_id,
                thread_id,
                group_id,
                author_email,
                created: from_db(created),
                by_email,
                question_tag: tags.contains(",question,"),
                best_answer: best,
            });
        }
        Ok(posts)
    }

    /// Pauses, resumes, unsubscribes and opt-outs from `since` to `until`, oldest first.
    pub fn person_events(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<PersonEvent>, StoreError> {
        let rows = self.db.query_map(
            "SELECT email, kind, at FROM person_events WHERE at >= ?1 AND at <= ?2
             ORDER BY at, id",
            params![to_db(since)?, to_db(until)?],
            |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?, r.get::<i64>(2)?)),
        )?;
        let mut events = Vec::new();
        for row in rows {
            let (email, kind, at) = row;
            let kind = PersonEventKind::parse(&kind).ok_or(StoreError::BadValue {
                column: "person_events.kind",
                value: kind,
            })?;
            events.push(PersonEvent {
                email,
                kind,
                at: from_db(at),
            });
        }
        Ok(events)
    }
}
