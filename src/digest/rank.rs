//! Ranking: the activity score of a thread or a highlight.
//!
//! Two small pure functions with their weights as named constants, so a reader can see (and a
//! test can pin) why one thread comes before another. Scores only order items inside one digest;
//! their absolute value means nothing.
//!
//! **Thread score** = `activity × freshness`, where
//! - `activity = W_PARTICIPANT·participants + W_REPLY·posts + W_LIKE·ln(1 + likes)`: people
//!   talking to each other weigh most, many posts next, likes least (logarithmic, so one viral post
//!   cannot drown a lively discussion);
//! - `freshness = RECENCY_FLOOR + (1 − RECENCY_FLOOR)·2^(−age / THREAD_HALF_LIFE)`, with `age` the
//!   time from the thread's newest post to the period end. Recency can at most multiply the score
//!   by `RECENCY_FLOOR`, so a busy thread from Monday still beats a one-liner from Friday.
//!
//! **Highlight score** = `(H_BASE + H_NOMINATION·log2(1 + nominations) + H_BEST_ANSWER·best +
//! H_LIKE·ln(1 + likes) + H_REPLY·ln(1 + replies)) × freshness` with the slower
//! `HIGHLIGHT_HALF_LIFE`: training material stays relevant longer than chatter. A person's
//! judgement weighs most: one ambassador's nomination outweighs a best answer or a much-liked post
//! even when it is weeks older; each further nomination adds less than the one before.
//!
//! **Question score** (for "Can you help?") = `group_fit × (1 + ln(1 + waiting days))`: a question
//! waiting longer comes first, but only logarithmically, so a question in the person's main group
//! outranks an older one in a group their role follows last. `group_fit` sums, over the person's
//! roles that follow the group, `1 / (1 + position)` of the group in the role's list: a role's
//! first group fits best, and a group several of their roles follow fits better still.
//!
//! **Candidates** (see [`HighlightSource`]): a post is a highlight candidate for a role that
//! follows its group when an ambassador nominated it, when it carries one of the role's training
//! tags, when it is the accepted/best answer and the role lists the `best-answer` tag, or when it
//! has at least `[digest] highlight_min_likes` likes. [`highlight_source`] decides which, in that
//! order of precedence.

use chrono::{DateTime, Duration, Utc};

/// Weight of each distinct participant in a thread's period activity.
pub const W_PARTICIPANT: f64 = 3.0;
/// Weight of each post in the period.
pub const W_REPLY: f64 = 1.0;
/// Weight of `ln(1 + likes)` over the period's posts.
pub const W_LIKE: f64 = 1.5;
/// Lowest freshness factor: how much an old item keeps of its score.
pub const RECENCY_FLOOR: f64 = 0.5;
/// Age at which a thread's freshness bonus has halved.
pub const THREAD_HALF_LIFE_HOURS: f64 = 48.0;

/// Base score of any highlight (so that a fresh, unliked one still ranks).
pub const H_BASE: f64 = 1.0;
/// Bonus of an ambassador's nomination (times `log2(1 + nominations)`).
pub const H_NOMINATION: f64 = 8.0;
/// Bonus of a post marked as the thread's best answer.
pub const H_BEST_ANSWER: f64 = 3.0;
/// Weight of `ln(1 + likes)` of a highlighted post.
pub const H_LIKE: f64 = 1.5;
/// Weight of `ln(1 + replies)` of a highlighted post.
pub const H_REPLY: f64 = 0.5;
/// Age at which a highlight's freshness bonus has halved.
pub const HIGHLIGHT_HALF_LIFE_HOURS: f64 = 7.0 * 24.0;

/// What the ranking looks at for a thread's activity in a period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThreadSignals {
    /// Distinct authors of posts in the period.
    pub participants: usize,
    /// Posts in the period.
    pub posts: usize,
    /// Likes summed over those posts.
    pub likes: u64,
    /// Creation time of the newest of those posts.
    pub newest: DateTime<Utc>,
}

/// What the ranking looks at for a highlighted post.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HighlightSignals {
    /// Likes on the post.
    pub likes: u32,
    /// Replies to the post, as the forum counts them.
    pub replies: u32,
    /// Marked as best answer.
    pub best_answer: bool,
    /// Ambassadors' nominations in force.
    pub nominations: u32,
    /// When it was written.
    pub created: DateTime<Utc>,
}

/// Freshness factor in `[RECENCY_FLOOR, 1]`: 1 at `age <= 0`, halving its bonus every `half_life_hours`.
pub fn freshness(age: Duration, half_life_hours: f64) -> f64 {
    let hours = (age.num_seconds().max(0) as f64) / 3600.0;
    let decay = (-hours / half_life_hours).exp2();
    RECENCY_FLOOR + (1.0 - RECENCY_FLOOR) * decay
}

/// Score of a thread's activity in a period ending at `period_end` (higher first).
pub fn thread_score(s: &ThreadSignals, period_end: DateTime<Utc>) -> f64 {
    let activity = W_PARTICIPANT * s.participants as f64
        + W_REPLY * s.posts as f64
        + W_LIKE * (s.likes as f64).ln_1p();
    activity * freshness(period_end - s.newest, THREAD_HALF_LIFE_HOURS)
}

/// Score of a training highlight for a digest whose period ends at `period_end` (higher first).
pub fn highlight_score(s: &HighlightSignals, period_end: DateTime<Utc>) -> f64 {
    let worth = H_BASE
        + H_NOMINATION * f64::from(s.nominations).ln_1p() / std::f64::consts::LN_2
        + if s.best_answer { H_BEST_ANSWER } else { 0.0 }
        + H_LIKE * f64::from(s.likes).ln_1p()
        + H_REPLY * f64::from(s.replies).ln_1p();
    worth * freshness(period_end - s.created, HIGHLIGHT_HALF_LIFE_HOURS)
}

/// How well a group fits a person whose roles follow groups in the given orders: the sum over
/// those roles of `1 / (1 + position of the group)` (0 when none follows it).
pub fn group_fit<'a>(role_groups: impl IntoIterator<Item = &'a [String]>, group: &str) -> f64 {
    role_groups
        .into_iter()
        .filter_map(|gs| gs.iter().position(|g| g == group))
        .map(|pos| 1.0 / (1.0 + pos as f64))
        .sum()
}

/// Score of an unanswered question waiting for `waiting` in a group with `fit` (higher first).
pub fn question_score(fit: f64, waiting: Duration) -> f64 {
    let days = (waiting.num_seconds().max(0) as f64) / 86_400.0;
    fit * (1.0 + days.ln_1p())
}

/// Why a post is a training highlight for a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HighlightSource<'a> {
    /// An ambassador nominated it.
    Nominated,
    /// It carries this training tag of the role.
    Tag(&'a str),
    /// It is the thread's accepted/best answer (and the role lists `best-answer`).
    BestAnswer,
    /// It has at least the configured number of likes.
    Liked,
}

impl HighlightSource<'_> {
    /// The word a digest shows for it (`nominated`, the tag, `best-answer`, `liked`).
    pub fn label(&self) -> &str {
        match self {
            HighlightSource::Nominated => NOMINATED_LABEL,
            HighlightSource::Tag(t) => t,
            HighlightSource::BestAnswer => BEST_ANSWER_LABEL,
            HighlightSource::Liked => LIKED_LABEL,
        }
    }
}

/// [`HighlightSource::label`] of a nominated post.
pub const NOMINATED_LABEL: &str = "nominated";
/// [`HighlightSource::label`] of a best answer (also the tag a role lists to get them).
pub const BEST_ANSWER_LABEL: &str = "best-answer";
/// [`HighlightSource::label`] of a much-liked post.
pub const LIKED_LABEL: &str = "liked";

/// What makes a post a highlight candidate, beside its signals.
#[derive(Debug, Clone, Copy)]
pub struct CandidatePost<'a> {
    /// The post's tags (lower case).
    pub tags: &'a [String],
    /// Marked as best answer.
    pub best_answer: bool,
    /// Likes.
    pub likes: u32,
    /// Nominations in force.
    pub nominations: u32,
}

/// Why `post` is a highlight for a role with `training_tags`, if it is one; `min_likes` 0
/// turns likes off as a source. Precedence: nomination, training tag, best answer, likes.
pub fn highlight_source<'a>(
    post: &CandidatePost<'a>,
    training_tags: &[String],
    min_likes: u32,
) -> Option<HighlightSource<'a>> {
    if post.nominations > 0 {
        return Some(HighlightSource::Nominated);
    }
    if let Some(t) = post
        .tags
        .iter()
        .find(|t| training_tags.iter().any(|r| r == *t))
    {
        return Some(HighlightSource::Tag(t));
    }
    if post.best_answer && training_tags.iter().any(|r| r == BEST_ANSWER_LABEL) {
        return Some(HighlightSource::BestAnswer);
    }
    (min_likes > 0 && post.likes >= min_likes).then_some(HighlightSource::Liked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn end() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 7, 7, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn thread(participants: usize, posts: usize, likes: u64, hours_ago: i64) -> f64 {
        thread_score(
            &ThreadSignals {
                participants,
                posts,
                likes,
                newest: end() - Duration::hours(hours_ago),
            },
            end(),
        )
    }

    fn highlight(likes: u32, best_answer: bool, hours_ago: i64) -> f64 {
        highlight_score(
            &HighlightSignals {
                likes,
                replies: 0,
                best_answer,
                nominations: 0,
                created: end() - Duration::hours(hours_ago),
            },
            end(),
        )
    }

    #[test]
    fn freshness_is_bounded_and_halves() {
        assert!((freshness(Duration::zero(), 48.0) - 1.0).abs() < 1e-9);
        assert!((freshness(Duration::hours(-5), 48.0) - 1.0).abs() < 1e-9);
        let half = freshness(Duration::hours(48), 48.0);
        assert!((half - (RECENCY_FLOOR + (1.0 - RECENCY_FLOOR) / 2.0)).abs() < 1e-9);
        assert!(freshness(Duration::days(365), 48.0) >= RECENCY_FLOOR);
    }

    #[test]
    fn more_participants_beat_more_posts_by_one_person() {
        // Four people, four posts vs one person talking to themselves eight times.
        assert!(thread(4, 4, 0, 1) > thread(1, 8, 0, 1));
    }

    #[test]
    fn more_posts_and_likes_rank_higher_at_equal_age() {
        assert!(thread(3, 6, 0, 2) > thread(3, 3, 0, 2));
        assert!(thread(3, 3, 10, 2) > thread(3, 3, 0, 2));
    }

    #[test]
    fn recency_breaks_ties_but_does_not_dominate() {
        assert!(thread(2, 2, 0, 1) > thread(2, 2, 0, 100));
        // A busy thread from five days ago still beats a single fresh post.
        assert!(thread(6, 15, 5, 120) > thread(1, 1, 0, 0));
    }

    #[test]
    fn likes_are_logarithmic() {
        // 1000 likes on one lone post do not beat a real discussion.
        assert!(thread(5, 8, 0, 1) > thread(1, 1, 1000, 1));
    }

    #[test]
    fn highlight_ordering() {
        assert!(highlight(0, true, 1) > highlight(0, false, 1));
        assert!(highlight(20, false, 1) > highlight(0, false, 1));
        assert!(highlight(3, false, 1) > highlight(3, false, 24 * 20));
        // A best answer from two weeks ago still beats a fresh unliked post.
        assert!(highlight(0, true, 24 * 14) > highlight(0, false, 0));
    }

    #[test]
    fn a_nomination_outweighs_a_best_answer_and_a_second_adds_less() {
        let at = |nominations, best_answer| {
            highlight_score(
                &HighlightSignals {
                    likes: 0,
                    replies: 0,
                    best_answer,
                    nominations,
                    created: end(),
                },
                end(),
            )
        };
        assert!(at(1, false) > at(0, true));
        let first = at(1, false) - at(0, false);
        let second = at(2, false) - at(1, false);
        assert!(second > 0.0 && second < first);
    }

    #[test]
    fn sources_in_order_of_precedence() {
        let tags = vec!["training".to_string(), "best-answer".to_string()];
        let post = |t: &'static [String], best_answer, likes, nominations| CandidatePost {
            tags: t,
            best_answer,
            likes,
            nominations,
        };
        static TRAINING: std::sync::LazyLock<Vec<String>> =
            std::sync::LazyLock::new(|| vec!["training".to_string()]);
        assert_eq!(
            highlight_source(&post(&TRAINING, true, 50, 1), &tags, 5),
            Some(HighlightSource::Nominated)
        );
        assert_eq!(
            highlight_source(&post(&TRAINING, true, 50, 0), &tags, 5),
            Some(HighlightSource::Tag("training"))
        );
        assert_eq!(
            highlight_source(&post(&[], true, 50, 0), &tags, 5),
            Some(HighlightSource::BestAnswer)
        );
        assert_eq!(
            highlight_source(&post(&[], true, 50, 0), &[], 5),
            Some(HighlightSource::Liked)
        );
        assert_eq!(highlight_source(&post(&[], false, 4, 0), &tags, 5), None);
        assert_eq!(highlight_source(&post(&[], false, 99, 0), &tags, 0), None);
        assert_eq!(HighlightSource::Liked.label(), "liked");
    }

    #[test]
    fn questions_rank_by_fit_then_age() {
        let groups = |gs: &[&str]| gs.iter().map(|g| g.to_string()).collect::<Vec<_>>();
        let social = groups(&["youth", "housing", "general"]);
        let lead = groups(&["general"]);
        let roles = [social.as_slice(), lead.as_slice()];
        assert!((group_fit(roles, "youth") - 1.0).abs() < 1e-9);
        assert!((group_fit(roles, "general") - (1.0 / 3.0 + 1.0)).abs() < 1e-9);
        assert_eq!(group_fit(roles, "other"), 0.0);
        // Older first at equal fit; a better group beats a somewhat older question.
        assert!(question_score(1.0, Duration::days(5)) > question_score(1.0, Duration::days(2)));
        assert!(question_score(1.0, Duration::days(2)) > question_score(0.5, Duration::days(6)));
        assert_eq!(question_score(0.0, Duration::days(9)), 0.0);
    }
}
