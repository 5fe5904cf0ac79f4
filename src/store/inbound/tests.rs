//! Unit tests of the inbound tables: storing, deduplicating, finishing and the answers-per-day limit.

use super::*;
use crate::store::test_support::{each_store, temp_store};

#[test]
fn duplicates_by_hash_or_message_id() {
    each_store(|mut store| {
        let a = store
            .insert_inbound(b"one", Some("<m1@x>"), "h1", "stdin")
            .expect("a");
        assert!(!a.duplicate);
        // The same bytes carry the same Message-ID (the caller reads it from them).
        let same_bytes = store
            .insert_inbound(b"one", Some("<m1@x>"), "h1", "maildir")
            .expect("b");
        assert_eq!(
            same_bytes,
            InsertedInbound {
                id: a.id,
                duplicate: true
            }
        );
        let same_mid = store
            .insert_inbound(b"one, via cc", Some("m1@x"), "h2", "imap")
            .expect("c");
        assert!(same_mid.duplicate);
        let no_mid = store
            .insert_inbound(b"two", None, "h3", "stdin")
            .expect("d");
        let no_mid2 = store
            .insert_inbound(b"three", None, "h4", "stdin")
            .expect("e");
        assert!(!no_mid.duplicate && !no_mid2.duplicate);
        let no_mid_again = store
            .insert_inbound(b"two", None, "h3", "maildir")
            .expect("f");
        assert_eq!(
            no_mid_again,
            InsertedInbound {
                id: no_mid.id,
                duplicate: true
            }
        );
        // A message without a Message-ID is not a copy of one with the same hash and an id:
        // such a pair cannot come from the same bytes.
        let no_mid_same_hash = store
            .insert_inbound(b"one", None, "h1", "stdin")
            .expect("g");
        assert!(!no_mid_same_hash.duplicate);
        assert_eq!(store.queued_inbound().expect("q").len(), 4);
        store
            .set_inbound_status(no_mid_same_hash.id, InboundStatus::Ignored, None)
            .expect("ignore");

        store
            .set_inbound_status(no_mid.id, InboundStatus::Ignored, Some("auto-reply"))
            .expect("ignore");
        store
            .set_inbound_posted(a.id, "17", "https://forum.example/t/1/17", "g")
            .expect("posted");
        store
            .defer_inbound(no_mid2.id, Utc::now(), "forum down")
            .expect("defer");
        let q = store.queued_inbound().expect("q");
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].attempts, 1);
        assert_eq!(q[0].raw, b"three");
        let row = store.inbound(a.id).expect("row").expect("some");
        assert_eq!(row.status, InboundStatus::Posted);
        assert_eq!(row.posted_remote_id.as_deref(), Some("17"));
        assert_eq!(
            row.posted_url.as_deref(),
            Some("https://forum.example/t/1/17")
        );
        assert_eq!(row.message_id.as_deref(), Some("m1@x"));
    });
}

/// A store file at `path` with the schema of version `version` only, as an older digestd
/// left it.
fn store_at_version(path: &std::path::Path, version: usize) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("open");
    for sql in &crate::store::migrations::MIGRATIONS[..version] {
        conn.execute_batch(sql).expect("old schema");
    }
    conn.execute_batch(&format!("PRAGMA user_version = {version}"))
        .expect("version");
    conn
}

#[test]
fn migration_4_keeps_every_stored_message_and_its_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v3.sqlite");
    {
        let conn = store_at_version(&path, 3);
        conn.execute_batch(
            "INSERT INTO inbound_messages (id, message_id, sha256, raw, received, source,
                status, reason, attempts, next_attempt, posted_remote_id) VALUES
             (4, 'a@x', 'ha', x'6f6e65', 1, 'stdin', 'posted', NULL, 0, NULL, '9'),
             (7, NULL, 'hb', x'74776f', 2, 'maildir', 'queued', 'forum down', 2, 5, NULL);",
        )
        .expect("v3 rows");
    }
    let mut store = Store::open(&path).expect("migrates");
    let posted = store.inbound(4).expect("row").expect("kept");
    assert_eq!(
        (
            posted.raw.as_slice(),
            posted.status,
            posted.posted_remote_id.as_deref()
        ),
        (&b"one"[..], InboundStatus::Posted, Some("9"))
    );
    let queued = store.queued_inbound().expect("queued");
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (queued[0].id, queued[0].raw.as_slice(), queued[0].attempts),
        (7, &b"two"[..], 2)
    );
    // Old rows still count as duplicates, by Message-ID and (without one) by hash.
    let again = store
        .insert_inbound(b"one", Some("<a@x>"), "ha", "imap")
        .expect("again");
    assert_eq!(
        again,
        InsertedInbound {
            id: 4,
            duplicate: true
        }
    );
    let again = store
        .insert_inbound(b"two", None, "hb", "imap")
        .expect("again");
    assert_eq!(
        again,
        InsertedInbound {
            id: 7,
            duplicate: true
        }
    );
    let new = store
        .insert_inbound(b"three", None, "hc", "imap")
        .expect("new");
    assert!(!new.duplicate && new.id > 7);
}

#[test]
fn migration_5_keeps_every_row_and_checks_status_without_a_temporary_btree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v4.sqlite");
    {
        let conn = store_at_version(&path, 4);
        conn.execute_batch(
            "INSERT INTO inbound_messages (id, message_id, message_id_hash, sha256, received,
                source, status, reason, attempts, next_attempt, posted_remote_id) VALUES
             (4, 'a@x', 11, 'ha', 1, 'stdin', 'posted', NULL, 0, NULL, '9'),
             (7, NULL, NULL, 'hb', 2, 'maildir', 'queued', 'forum down', 2, 5, NULL);
             INSERT INTO inbound_raw (id, raw) VALUES (4, x'6f6e65'), (7, x'74776f');",
        )
        .expect("v4 rows");
    }
    let store = Store::open(&path).expect("migrates");
    let posted = store.inbound(4).expect("row").expect("kept");
    assert_eq!(
        (
            posted.raw.as_slice(),
            posted.status,
            posted.message_id.as_deref()
        ),
        (&b"one"[..], InboundStatus::Posted, Some("a@x"))
    );
    let queued = store.queued_inbound().expect("queued");
    assert_eq!((queued.len(), queued[0].id, queued[0].attempts), (1, 7, 2));
    let hash: Option<i64> = store
        .sqlite()
        .expect("sqlite")
        .query_row(
            "SELECT message_id_hash FROM inbound_messages WHERE id = 4",
            [],
            |r| r.get(0),
        )
        .expect("hash");
    assert_eq!(hash, Some(11));
    // The check still refuses what it refused.
    assert!(store
        .sqlite()
        .expect("sqlite")
        .execute(
            "UPDATE inbound_messages SET status = 'lost' WHERE id = 4",
            []
        )
        .is_err());
    // And neither the insert nor an update of the status builds a temporary b-tree.
    for sql in [
        "INSERT INTO inbound_messages (message_id, message_id_hash, sha256, received, source,
             status) VALUES ('b@x', 1, 'hc', 1, 's', 'queued')",
        SET_POSTED,
        SET_STATUS,
        DEFER,
    ] {
        let mut st = store
            .sqlite()
            .expect("sqlite")
            .prepare(&format!("EXPLAIN {sql}"))
            .expect("explain");
        let unbound = std::iter::repeat_n(rusqlite::types::Null, st.parameter_count());
        let ops: Vec<String> = st
            .query_map(rusqlite::params_from_iter(unbound), |r| {
                r.get::<_, String>(1)
            })
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("ops");
        assert!(
            !ops.iter().any(|op| op == "OpenEphemeral"),
            "{sql}: {ops:?}"
        );
    }
}

#[test]
fn batches_store_once_and_finish_together() {
    each_store(|mut store| {
        let first = store
            .insert_inbound(b"old", Some("<old@x>"), "h0", "stdin")
            .expect("old");
        let new = |raw: &'static [u8], mid: Option<&'static str>, sha: &'static str| NewInbound {
            raw,
            message_id: mid,
            sha256: sha,
        };
        let got = store
            .insert_inbound_batch(
                &[
                    new(b"a", Some("<a@x>"), "h1"),
                    new(b"old again", Some("old@x"), "h9"),
                    new(b"a via cc", Some("a@x"), "h2"),
                    new(b"b", None, "h3"),
                ],
                "maildir",
            )
            .expect("batch");
        assert_eq!(got.len(), 4);
        assert!(!got[0].duplicate && !got[3].duplicate);
        assert_eq!(
            got[1],
            InsertedInbound {
                id: first.id,
                duplicate: true
            }
        );
        assert_eq!(
            got[2],
            InsertedInbound {
                id: got[0].id,
                duplicate: true
            }
        );
        assert_eq!(store.queued_inbound().expect("q").len(), 3);

        let later = Utc::now();
        store
            .finish_inbound_batch(&[
                (got[0].id, InboundEnd::Posted("7", "", "g")),
                (got[3].id, InboundEnd::Deferred(later, "forum down")),
                (
                    first.id,
                    InboundEnd::Done(InboundStatus::Ignored, Some("auto-reply")),
                ),
            ])
            .expect("finish");
        let a = store.inbound(got[0].id).expect("a").expect("some");
        assert_eq!(
            (a.status, a.posted_remote_id.as_deref()),
            (InboundStatus::Posted, Some("7"))
        );
        let b = store.inbound(got[3].id).expect("b").expect("some");
        assert_eq!((b.status, b.attempts), (InboundStatus::Queued, 1));
        let old = store.inbound(first.id).expect("old").expect("some");
        assert_eq!(old.reason.as_deref(), Some("auto-reply"));
        store.finish_inbound_batch(&[]).expect("empty");
    });
}

#[test]
fn a_wide_batch_is_written_many_rows_a_statement_and_keeps_every_row_and_duplicate() {
    each_store(|mut store| {
        // Stored before: every third Message-ID of the batch, and one message without one.
        let total = 3 * ROWS_A_STATEMENT + IDS_A_LOOKUP + 5;
        let mid = |i: usize| format!("<wide-{i}@x>");
        let raw = |i: usize| format!("message {i}").into_bytes();
        let sha = |i: usize| format!("sha-{i}");
        let mut before = HashMap::new();
        for i in (0..total).step_by(3) {
            let got = store
                .insert_inbound(&raw(i), Some(&mid(i)), &sha(i), "stdin")
                .expect("before");
            before.insert(i, got.id);
        }
        let loose = store
            .insert_inbound(b"no id", None, "sha-loose", "stdin")
            .expect("loose");
        let (mids, raws, shas): (Vec<_>, Vec<_>, Vec<_>) =
            (0..total).map(|i| (mid(i), raw(i), sha(i))).collect();
        let mut batch: Vec<NewInbound<'_>> = (0..total)
            .map(|i| NewInbound {
                raw: &raws[i],
                message_id: Some(&mids[i]),
                sha256: &shas[i],
            })
            .collect();
        // A Reply-All copy of message 1 at the end; the loose message again; a new one
        // without a Message-ID, twice.
        batch.push(NewInbound {
            raw: &raws[1],
            message_id: Some("wide-1@x"),
            sha256: &shas[1],
        });
        for sha256 in ["sha-loose", "sha-new", "sha-new"] {
            batch.push(NewInbound {
                raw: b"no id",
                message_id: None,
                sha256,
            });
        }
        let got = store
            .insert_inbound_batch(&batch, "maildir")
            .expect("batch");
        assert_eq!(got.len(), batch.len());
        for (i, g) in got.iter().take(total).enumerate() {
            match before.get(&i) {
                Some(&id) => assert_eq!((g.id, g.duplicate), (id, true), "message {i}"),
                None => {
                    assert!(!g.duplicate, "message {i}");
                    let row = store.inbound(g.id).expect("read").expect("stored");
                    assert_eq!(row.raw, raws[i], "message {i} keeps its bytes");
                    assert_eq!(
                        row.message_id.as_deref(),
                        Some(&mids[i][1..mids[i].len() - 1])
                    );
                }
            }
        }
        assert_eq!((got[total].id, got[total].duplicate), (got[1].id, true));
        assert_eq!(
            (got[total + 1].id, got[total + 1].duplicate),
            (loose.id, true)
        );
        assert!(!got[total + 2].duplicate);
        assert_eq!(
            (got[total + 3].id, got[total + 3].duplicate),
            (got[total + 2].id, true)
        );
        let new_ids: std::collections::HashSet<i64> =
            got.iter().filter(|g| !g.duplicate).map(|g| g.id).collect();
        assert_eq!(new_ids.len(), total - before.len() + 1, "distinct new rows");
        assert_eq!(
            store.queued_inbound().expect("queued").len(),
            total + 2,
            "each message stored once"
        );
    });
}

#[test]
fn a_batch_that_fails_in_its_middle_stores_none_of_it() {
    let (_d, mut store) = temp_store();
    let total = 2 * ROWS_A_STATEMENT + 3;
    let raws: Vec<Vec<u8>> = (0..total).map(|i| format!("m{i}").into_bytes()).collect();
    let mids: Vec<String> = (0..total).map(|i| format!("<half-{i}@x>")).collect();
    let batch: Vec<NewInbound<'_>> = (0..total)
        .map(|i| NewInbound {
            raw: &raws[i],
            message_id: Some(&mids[i]),
            sha256: "h",
        })
        .collect();
    // The disk "fills" in the middle of the second statement of raw bytes.
    let refuse_at = ROWS_A_STATEMENT as i64 + 10;
    store
        .sqlite()
        .expect("sqlite")
        .execute_batch(&format!(
            "CREATE TRIGGER refuse BEFORE INSERT ON inbound_raw WHEN NEW.id = {refuse_at}
             BEGIN SELECT RAISE(ABORT, 'test: disk full'); END;"
        ))
        .expect("trigger");
    let err = store
        .insert_inbound_batch(&batch, "maildir")
        .expect_err("refused");
    assert!(err.to_string().contains("disk full"), "{err}");
    assert!(
        store.queued_inbound().expect("queued").is_empty(),
        "none of it"
    );
    store
        .sqlite()
        .expect("sqlite")
        .execute_batch("DROP TRIGGER refuse")
        .expect("drop");
    let got = store
        .insert_inbound_batch(&batch, "maildir")
        .expect("stored");
    assert!(
        got.iter().all(|g| !g.duplicate),
        "nothing left from the failure"
    );
    assert_eq!(store.queued_inbound().expect("queued").len(), total);
}

#[test]
fn one_answer_per_address_reason_day() {
    each_store(|store| {
        let day = NaiveDate::from_ymd_opt(2024, 5, 1).expect("date");
        assert!(store.record_answer("A@x.org", "expired", day).expect("1"));
        assert!(!store.record_answer("a@x.org", "expired", day).expect("2"));
        assert!(store.record_answer("a@x.org", "unknown", day).expect("3"));
        let next = day.succ_opt().expect("next");
        assert!(store.record_answer("a@x.org", "expired", next).expect("4"));
        // A slot given back (the answer was not sent) can be taken again.
        store
            .release_answer("A@X.org", "expired", day)
            .expect("release");
        assert!(store.record_answer("a@x.org", "expired", day).expect("5"));
    });
}
