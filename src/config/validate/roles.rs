//! `[[roles]]`: the roles, their groups, schedules and templates.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use toml::Spanned;

use crate::config::checks;
use crate::config::raw::{self, RawConfig};
use crate::model::{Role, Schedule};

use super::*;

impl Validator<'_> {
    /// Valid roles, and every role name written.
    pub(super) fn roles(
        &mut self,
        raw: &[Spanned<raw::RawRole>],
        group_ids: &HashSet<String>,
        defaults: &Defaults,
        templates_dir: &Path,
        config: &RawConfig,
    ) -> (Vec<Role>, HashSet<String>) {
        let mut roles = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        // template name → (line, key, role names)
        let mut templates: BTreeMap<String, (usize, String, Vec<String>)> = BTreeMap::new();
        for (i, role) in raw.iter().enumerate() {
            let line = self.line(role);
            let r = role.get_ref();
            let p = format!("roles[{i}]");
            let name = self.required_str(
                r.name.as_ref(),
                line,
                &join(&p, "name"),
                "e.g. social-worker",
            );
            if let Some(n) = &name {
                if let Err(e) = checks::check_role_name(&n.value) {
                    self.problem(n.line, &n.key, e);
                }
                let lower = n.value.to_lowercase();
                if let Some(first) = seen.get(&lower) {
                    let msg = format!(
                        "duplicate role name `{}` (first defined on line {first})",
                        n.value
                    );
                    self.problem(n.line, &n.key, msg);
                } else {
                    seen.insert(lower, n.line);
                }
            }
            let mut groups = Vec::new();
            match &r.groups {
                None => self.missing(line, &join(&p, "groups"), "the group ids this role follows"),
                Some(g) if g.get_ref().is_empty() => {
                    let l = self.line(g);
                    self.problem(l, &join(&p, "groups"), "a role needs at least one group");
                }
                Some(g) => {
                    for (j, gid) in g.get_ref().iter().enumerate() {
                        let at = self.at(gid, format!("{p}.groups[{j}]"));
                        if !group_ids.contains(&at.value) {
                            let mut known: Vec<&str> =
                                group_ids.iter().map(String::as_str).collect();
                            known.sort_unstable();
                            let msg = format!(
                                "unknown group `{}` (groups: {})",
                                at.value,
                                known.join(", ")
                            );
                            self.problem(at.line, &at.key, msg);
                        } else if !groups.contains(&at.value) {
                            groups.push(at.value);
                        }
                    }
                }
            }
            let training_tags: Vec<String> = r
                .training_tags
                .iter()
                .map(|t| t.get_ref().trim().to_lowercase())
                .filter(|t| !t.is_empty())
                .collect();
            let time_zone = match &r.time_zone {
                Some(tz) => {
                    let at = self.at(tz, join(&p, "time_zone"));
                    let file = self.ctx.file;
                    self.time_zone(file, &at)
                }
                None => Some(defaults.time_zone),
            };
            let cron = self.required_str(
                r.schedule.as_ref(),
                line,
                &join(&p, "schedule"),
                "cron with seconds, e.g. \"0 30 7 * * Mon-Fri\"",
            );
            let cron = match (cron, time_zone) {
                (Some(c), Some(tz)) => match checks::check_cron(&c.value, tz) {
                    Ok(()) => Some(c.value.split_whitespace().collect::<Vec<_>>().join(" ")),
                    Err(e) => {
                        self.problem(c.line, &c.key, e);
                        None
                    }
                },
                _ => None,
            };
            let mut best_of_at = None;
            let best_of = match (&r.best_of, time_zone) {
                (Some(b), Some(tz)) => {
                    let at = self.at(b, join(&p, "best_of"));
                    best_of_at = Some((at.line, at.key.clone()));
                    match checks::check_cron(&at.value, tz) {
                        Ok(()) => Some(Schedule {
                            cron: at.value.split_whitespace().collect::<Vec<_>>().join(" "),
                            time_zone: tz,
                        }),
                        Err(e) => {
                            self.problem(at.line, &at.key, e);
                            None
                        }
                    }
                }
                _ => None,
            };
            let template = match &r.template {
                Some(t) => {
                    let at = self.at(t, join(&p, "template"));
                    match checks::check_template_name(&at.value) {
                        Ok(()) => Some(at),
                        Err(e) => {
                            self.problem(at.line, &at.key, e);
                            None
                        }
                    }
                }
                None => None,
            };
            let (tpl_name, tpl_line, tpl_key) = match &template {
                Some(t) => (t.value.clone(), t.line, t.key.clone()),
                None => match config
                    .digest
                    .as_ref()
                    .and_then(|d| d.get_ref().templates.as_ref())
                {
                    Some(dir) => (
                        DEFAULT_TEMPLATE.to_string(),
                        self.line(dir),
                        "digest.templates".to_string(),
                    ),
                    None => (DEFAULT_TEMPLATE.to_string(), line, join(&p, "template")),
                },
            };
            let role_name = name.as_ref().map_or_else(|| p.clone(), |n| n.value.clone());
            templates
                .entry(tpl_name)
                .or_insert((tpl_line, tpl_key, Vec::new()))
                .2
                .push(role_name.clone());
            // A monthly best-of is rendered from its own template pair.
            if let Some((line, key)) = best_of_at {
                templates
                    .entry(crate::best_of::TEMPLATE.to_string())
                    .or_insert((line, key, Vec::new()))
                    .2
                    .push(role_name);
            }
            let title = r
                .title
                .as_ref()
                .and_then(|t| self.local_text(t, &join(&p, "title")));
            if let (Some(name), Some(cron), Some(tz)) = (name, cron, time_zone) {
                roles.push(Role {
                    name: name.value,
                    title,
                    groups,
                    training_tags,
                    schedule: Schedule {
                        cron,
                        time_zone: tz,
                    },
                    best_of,
                    template: template.map(|t| t.value),
                });
            }
        }
        for (name, (line, key, users)) in templates {
            for ext in ["html", "txt"] {
                self.requirements.push(Requirement {
                    kind: RequirementKind::Template,
                    path: templates_dir.join(format!("{name}.{ext}.hbs")),
                    file: self.ctx.file.to_path_buf(),
                    line,
                    key: key.clone(),
                    needed_by: format!(
                        "template `{name}` of {} {}",
                        if users.len() == 1 { "role" } else { "roles" },
                        users.join(", ")
                    ),
                });
            }
        }
        // Keep exact names for lookups; duplicates were reported above.
        let names = raw
            .iter()
            .filter_map(|r| {
                r.get_ref()
                    .name
                    .as_ref()
                    .map(|n| n.get_ref().trim().to_string())
            })
            .collect();
        (roles, names)
    }
}

impl Validator<'_> {
    /// A localisable text: a non-empty string, or a table of non-empty strings keyed by valid
    /// locales. `None` (with a problem recorded) when it is neither.
    fn local_text(
        &mut self,
        t: &Spanned<raw::RawLocalText>,
        key: &str,
    ) -> Option<crate::model::LocalText> {
        let line = self.line(t);
        match t.get_ref() {
            raw::RawLocalText::Plain(s) if s.trim().is_empty() => {
                self.problem(line, key, "must not be empty");
                None
            }
            raw::RawLocalText::Plain(s) => Some(crate::model::LocalText::plain(s.trim())),
            raw::RawLocalText::ByLocale(m) if m.is_empty() => {
                self.problem(
                    line,
                    key,
                    "give the text, or a table of texts per locale, e.g. { en = \"Social worker\", nl = \"Maatschappelijk werker\" }",
                );
                None
            }
            raw::RawLocalText::ByLocale(m) => {
                let mut ok = true;
                for (locale, text) in m {
                    if let Err(e) = checks::check_locale(locale) {
                        self.problem(line, &format!("{key}.{locale}"), e);
                        ok = false;
                    } else if text.trim().is_empty() {
                        self.problem(line, &format!("{key}.{locale}"), "must not be empty");
                        ok = false;
                    }
                }
                let by_locale: std::collections::BTreeMap<String, String> = m
                    .iter()
                    .map(|(l, t)| (l.clone(), t.trim().to_string()))
                    .collect();
                let default = by_locale
                    .get("en")
                    .or_else(|| by_locale.values().next())
                    .cloned()
                    .unwrap_or_default();
                ok.then_some(crate::model::LocalText { default, by_locale })
            }
        }
    }
}
