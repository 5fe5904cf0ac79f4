//! Ranking: the activity score of a thread or a highlight.
