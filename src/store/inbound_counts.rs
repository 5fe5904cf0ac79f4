//! Aggregate counts over the inbound status rows for `digestd status` and `/metrics`: small
//! read-only queries that never load message bodies (the store's `queued_inbound` loads whole
//! messages).

use chrono::{DateTime, Utc};

use super::db::params;
use super::{Store, StoreError};

impl Store {
    /// Count and oldest arrival of queued inbound messages.
    pub fn inbound_queue_summary(&self) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        let (n, oldest): (i64, Option<i64>) = self.db.query_row(
            "SELECT COUNT(*), MIN(received) FROM inbound_messages WHERE status = 'queued'",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((
            n.max(0) as u64,
            oldest.map(DateTime::<Utc>::from_timestamp_nanos),
        ))
    }

    /// Inbound messages in the store per status (`queued`, `posted`, …), whichever way they
    /// came in (the MTA pipe runs in its own process, so only the store sees all of them).
    pub fn inbound_counts_by_status(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.db.query_map(
            "SELECT status, COUNT(*) FROM inbound_messages GROUP BY status ORDER BY status",
            params![],
            |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?.max(0) as u64)),
        )
    }
}
