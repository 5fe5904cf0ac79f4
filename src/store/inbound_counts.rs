//! Aggregate counts over the inbound status rows for `digestd status` and `/metrics`: small
//! read-only queries that never load message bodies (the store's `queued_inbound` loads whole
//! messages).

use chrono::{DateTime, Utc};

use super::{Store, StoreError};

impl Store {
    /// Count and oldest arrival of queued inbound messages.
    pub fn inbound_queue_summary(&self) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        let (n, oldest): (i64, Option<i64>) = self.conn.query_row(
            "SELECT COUNT(*), MIN(received) FROM inbound_messages WHERE status = 'queued'",
            [],
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
        let mut st = self.conn.prepare(
            "SELECT status, COUNT(*) FROM inbound_messages GROUP BY status ORDER BY status",
        )?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        rows.map(|r| {
            r.map(|(s, n)| (s, n.max(0) as u64))
                .map_err(StoreError::from)
        })
        .collect()
    }
}
