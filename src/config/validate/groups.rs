//! `[[groups]]`: the groups, each on its forum (see `config::forums`).

use std::collections::{BTreeMap, HashMap, HashSet};

use toml::Spanned;

use crate::config::checks;
use crate::config::raw;
use crate::model::Group;

use super::*;

impl Validator<'_> {
    /// Valid groups, and every id written (so one bad group does not make roles fail too).
    pub(super) fn groups(
        &mut self,
        raw: &[Spanned<raw::RawGroup>],
        forums: &[crate::config::ForumConfig],
        written_forums: &BTreeMap<String, Spanned<crate::config::forums::RawForum>>,
    ) -> (Vec<Group>, HashSet<String>) {
        let mut groups = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut ids = HashSet::new();
        for (i, g) in raw.iter().enumerate() {
            let line = self.line(g);
            let r = g.get_ref();
            let p = format!("groups[{i}]");
            let id = self.required_str(r.id.as_ref(), line, &join(&p, "id"), "[a-z0-9-]+");
            let name =
                self.required_str(r.name.as_ref(), line, &join(&p, "name"), "shown in digests");
            let Some(id) = id else { continue };
            ids.insert(id.value.clone());
            if let Err(e) = checks::check_group_id(&id.value) {
                self.problem(id.line, &id.key, e);
            }
            let lower = id.value.to_ascii_lowercase();
            if let Some(first) = seen.get(&lower) {
                let msg = format!(
                    "duplicate group id `{}` (first defined on line {first})",
                    id.value
                );
                self.problem(id.line, &id.key, msg);
                continue;
            }
            seen.insert(lower, id.line);
            let Some((forum_name, forum, source)) =
                self.group_source(&p, line, r, forums, written_forums)
            else {
                continue;
            };
            groups.push(Group {
                id: id.value,
                name: name.map(|n| n.value).unwrap_or_default(),
                forum,
                forum_name,
                source,
            });
        }
        (groups, ids)
    }
}
