//! Selection: (person, roles, recent activity, what they already got) → [`crate::model::Digest`].
