//! The store's own tests: opening, migrating, durability and syncing on both engines.

use super::*;

#[test]
fn fresh_store_is_migrated_and_in_wal() {
    let (_dir, store) = test_support::temp_store();
    assert_eq!(
        store.schema_version().expect("version"),
        migrations::MIGRATIONS.len() as i64
    );
    let mode: String = store
        .sqlite()
        .expect("sqlite")
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    let fk: i64 = store
        .sqlite()
        .expect("sqlite")
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .expect("fk");
    assert_eq!(fk, 1);
}

#[test]
fn a_new_file_gets_large_pages_and_an_old_one_keeps_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page_size = |path: &Path| -> (i64, i64) {
        let store = Store::open(path).expect("open");
        let size = store
            .sqlite()
            .expect("sqlite")
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .expect("page size");
        let pages = store
            .sqlite()
            .expect("sqlite")
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .expect("autocheckpoint");
        (size, pages)
    };
    let new = dir.path().join("new.sqlite");
    assert_eq!(page_size(&new), (NEW_FILE_PAGE_SIZE, 2048));
    assert_eq!(page_size(&new), (NEW_FILE_PAGE_SIZE, 2048), "reopened");

    // A store made with SQLite's default 4 KiB pages (as digestd made them before).
    let old = dir.path().join("old.sqlite");
    {
        let conn = Connection::open(&old).expect("create");
        conn.execute_batch(
            "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x);",
        )
        .expect("old file");
    }
    assert_eq!(
        page_size(&old),
        (4096, 8192),
        "same 32 MiB between checkpoints"
    );
}

#[test]
fn synced_writes_run_with_full_sync_and_the_connection_goes_back_to_normal() {
    let (_dir, mut store) = test_support::temp_store();
    let level = |s: &Store| -> i64 {
        s.sqlite()
            .expect("sqlite")
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .expect("synchronous")
    };
    assert_eq!(level(&store), 1, "NORMAL by default");
    let inside = store.synced(|s| Ok(level(s))).expect("synced");
    assert_eq!(inside, 2, "FULL inside");
    assert_eq!(level(&store), 1, "NORMAL after");
    let failed: Result<(), StoreError> = store.synced(|_| {
        Err(StoreError::BadValue {
            column: "x",
            value: "y".into(),
        })
    });
    assert!(failed.is_err());
    assert_eq!(level(&store), 1, "NORMAL after a failed write too");
}

#[test]
fn a_checkpointer_on_its_own_thread_copies_what_the_store_committed() {
    let (_dir, mut store) = test_support::temp_store();
    let raw = vec![b'x'; 64 * 1024];
    for i in 0..20 {
        store
            .insert_inbound(&raw, Some(&format!("<c{i}@x>")), &format!("h{i}"), "test")
            .expect("stored");
    }
    // In WAL mode the database file grows only when a checkpoint copies pages into it.
    let file_size = |store: &Store| std::fs::metadata(store.path()).expect("file").len();
    let before = file_size(&store);
    assert!(before < 20 * 64 * 1024, "not copied yet: {before} bytes");
    let checkpointer = store.wal_checkpointer().expect("checkpointer");
    std::thread::spawn(move || checkpointer.checkpoint())
        .join()
        .expect("thread")
        .expect("checkpointed");
    let after = file_size(&store);
    assert!(
        after >= 20 * 64 * 1024,
        "copied by the other connection: {after} bytes"
    );
}

#[test]
fn sync_commits_syncs_the_wal_and_says_which_file_failed() {
    let (dir, store) = test_support::temp_store();
    store.sync_commits().expect("synced");
    // A store whose directory went away names the file it could not sync.
    drop(store);
    let gone = dir.path().join("gone");
    std::fs::create_dir(&gone).expect("dir");
    let store = Store::open(&gone.join("s.sqlite")).expect("open");
    std::fs::remove_dir_all(&gone).expect("removed");
    let err = store.sync_commits().expect_err("no files left");
    assert!(
        err.to_string().contains("s.sqlite"),
        "names the file: {err}"
    );
}

#[test]
fn a_postgresql_sent_mark_returns_before_the_disk_and_sync_commits_puts_it_there() {
    let Some(mut store) = test_support::pg_store() else {
        return;
    };
    let text = |store: &Store, sql: &str| -> String {
        store.db.query_row(sql, &[], |r| r.get(0)).expect(sql)
    };
    assert_eq!(
        text(&store, "SELECT current_setting('synchronous_commit')"),
        "on",
        "every other commit waits for the disk"
    );
    let id = store
        .insert_pending_delivery(&NewDelivery {
            person_email: "a@example.org".into(),
            schedule: "weekly".into(),
            period_end: Utc::now(),
            message_id: "<m1@example.org>".into(),
            raw: b"raw".to_vec(),
            post_ids: vec![1, 2],
            grants: Vec::new(),
            highlights: Vec::new(),
        })
        .expect("recorded")
        .expect("new");
    store.mark_sent(id).expect("marked");
    let written = text(&store, "SELECT pg_current_wal_insert_lsn()::TEXT");
    store.sync_commits().expect("synced");
    let flushed_past: i64 = store
        .db
        .query_row(
            "SELECT CAST(CASE WHEN pg_current_wal_flush_lsn() >= CAST(?1 AS TEXT)::pg_lsn
                THEN 1 ELSE 0 END AS BIGINT)",
            db::params![written],
            |r| r.get(0),
        )
        .expect("compared");
    assert_eq!(
        flushed_past, 1,
        "everything written before the sync is on disk"
    );
    assert_eq!(
        text(&store, "SELECT current_setting('synchronous_commit')"),
        "on",
        "the unsynced commit's setting ended with its transaction"
    );
}

#[test]
fn reopen_keeps_data_and_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.sqlite");
    {
        let store = Store::open(&path).expect("open");
        store
            .sqlite()
            .expect("sqlite")
            .execute(
                "INSERT INTO groups (id, name, forum) VALUES ('g', 'G', 'local')",
                [],
            )
            .expect("insert");
    }
    let store = Store::open(&path).expect("reopen");
    let n: i64 = store
        .sqlite()
        .expect("sqlite")
        .query_row("SELECT COUNT(*) FROM groups", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 1);
    assert_eq!(
        store.schema_version().expect("v"),
        migrations::MIGRATIONS.len() as i64
    );
}

#[test]
fn newer_store_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.sqlite");
    {
        let store = Store::open(&path).expect("open");
        store
            .sqlite()
            .expect("sqlite")
            .execute_batch("PRAGMA user_version = 99")
            .expect("bump");
    }
    let err = Store::open(&path).expect_err("refused");
    let msg = err.to_string();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{msg}");
    assert!(msg.contains("version 99"), "{msg}");
}

#[test]
fn a_postgresql_store_is_migrated_reopened_and_refused_when_newer() {
    let Some(store) = test_support::pg_store() else {
        return;
    };
    assert_eq!(store.engine(), db::Engine::Postgres);
    let known = migrations_pg::MIGRATIONS.len() as i64;
    assert_eq!(store.schema_version().expect("version"), known);
    store
        .db
        .execute(
            "INSERT INTO groups (id, name, forum) VALUES ('g', 'G', 'local')",
            db::params![],
        )
        .expect("insert");
    let again = Store::open_at(store.location()).expect("reopen");
    assert_eq!(again.schema_version().expect("version"), known);
    let n: i64 = again
        .db
        .query_row("SELECT COUNT(*) FROM groups", db::params![], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 1, "data kept");
    again
        .db
        .execute("UPDATE schema_version SET version = 99", db::params![])
        .expect("bump");
    let err = Store::open_at(store.location()).expect_err("refused");
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    assert!(!err.to_string().contains("password"), "{err}");
}

#[test]
fn tags_round_trip() {
    let tags = vec![
        " Training ".to_string(),
        String::new(),
        "best-answer".into(),
    ];
    let db = tags_to_db(&tags);
    assert_eq!(db, ",training,best-answer,");
    assert_eq!(tags_from_db(&db), vec!["training", "best-answer"]);
    assert_eq!(tags_to_db(&[]), "");
    assert!(tags_from_db("").is_empty());
}

#[test]
fn instants_round_trip_exactly() {
    let t = Utc::now();
    assert_eq!(from_db(to_db(t).expect("in range")), t);
}
