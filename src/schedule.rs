//! Schedules: tokio-cron-scheduler jobs built from each role's cron expression and time zone.
