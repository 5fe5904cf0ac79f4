//! `[digest]`: the templates directory and the limits of a digest.

use std::path::PathBuf;

use toml::Spanned;

use crate::config::raw;
use crate::config::DigestConfig;

use super::*;

impl Validator<'_> {
    pub(super) fn digest(
        &mut self,
        t: Option<&Spanned<raw::RawDigest>>,
    ) -> (DigestConfig, PathBuf) {
        let d = DigestConfig::default();
        let Some(t) = t else {
            return (d, self.path(DEFAULT_TEMPLATES_DIR));
        };
        let r = t.get_ref();
        let templates = match &r.templates {
            Some(p) => self.path(p.get_ref()),
            None => self.path(DEFAULT_TEMPLATES_DIR),
        };
        let cfg = DigestConfig {
            max_threads: self.int(
                r.max_threads.as_ref(),
                "digest.max_threads",
                d.max_threads as i64,
                1,
                1000,
            ) as usize,
            max_highlights: self.int(
                r.max_highlights.as_ref(),
                "digest.max_highlights",
                d.max_highlights as i64,
                0,
                1000,
            ) as usize,
            send_empty: r.send_empty.unwrap_or(d.send_empty),
            token_days: self.int(
                r.token_days.as_ref(),
                "digest.token_days",
                d.token_days,
                1,
                3650,
            ),
            excerpt_chars: self.int(
                r.excerpt_chars.as_ref(),
                "digest.excerpt_chars",
                d.excerpt_chars as i64,
                1,
                100_000,
            ) as usize,
            max_questions: self.int(
                r.max_questions.as_ref(),
                "digest.max_questions",
                d.max_questions as i64,
                0,
                1000,
            ) as usize,
            unanswered_after: match &r.unanswered_after {
                None => d.unanswered_after,
                Some(v) => match crate::config::checks::parse_span(v.get_ref()) {
                    Ok(span) => span,
                    Err(e) => {
                        let line = self.line(v);
                        self.problem(line, "digest.unanswered_after", e);
                        d.unanswered_after
                    }
                },
            },
            highlight_min_likes: self.int(
                r.highlight_min_likes.as_ref(),
                "digest.highlight_min_likes",
                i64::from(d.highlight_min_likes),
                0,
                1_000_000,
            ) as u32,
            best_of_highlights: self.int(
                r.best_of_highlights.as_ref(),
                "digest.best_of_highlights",
                d.best_of_highlights as i64,
                1,
                1000,
            ) as usize,
        };
        (cfg, templates)
    }
}
