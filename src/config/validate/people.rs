//! `[[people]]` (inline and from the people CSV): addresses, roles and per-person settings.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use toml::Spanned;

use crate::config::people_csv::{At, PersonIn};
use crate::config::raw::{self, Str};
use crate::model::{self, Person};

use super::*;

impl Validator<'_> {
    pub(super) fn person_in(&self, i: usize, p: &Spanned<raw::RawPerson>) -> PersonIn {
        let r = p.get_ref();
        let k = format!("people[{i}]");
        let opt = |s: &Option<Str>, key: &str| s.as_ref().map(|s| self.at(s, join(&k, key)));
        PersonIn {
            file: self.ctx.file.to_path_buf(),
            line: self.line(p),
            key: k.clone(),
            email: opt(&r.email, "email"),
            name: opt(&r.name, "name"),
            roles: r.roles.as_ref().map(|roles| At {
                value: roles
                    .get_ref()
                    .iter()
                    .enumerate()
                    .map(|(j, s)| self.at(s, format!("{k}.roles[{j}]")))
                    .collect(),
                line: self.line(roles),
                key: join(&k, "roles"),
            }),
            time_zone: opt(&r.time_zone, "time_zone"),
            locale: opt(&r.locale, "locale"),
            frequency: opt(&r.frequency, "frequency"),
            matrix_id: opt(&r.matrix_id, "matrix_id"),
        }
    }

    pub(super) fn people(
        &mut self,
        input: Vec<PersonIn>,
        role_names: &HashSet<String>,
        defaults: &Defaults,
        templates_dir: &Path,
    ) -> Vec<Person> {
        let mut people = Vec::new();
        let mut seen: HashMap<String, (PathBuf, usize)> = HashMap::new();
        // locale → (file, line, key, count)
        let mut locales: BTreeMap<String, (PathBuf, usize, String, usize)> = BTreeMap::new();
        for p in input {
            let file = p.file.as_path();
            let email = match &p.email {
                Some(e) if !e.value.is_empty() => {
                    let norm = model::normalize_email(&e.value);
                    if let Err(err) = lettre::Address::from_str(&norm) {
                        self.problem_in(
                            file,
                            e.line,
                            &e.key,
                            format!("`{}` is not a valid address: {err}", e.value),
                        );
                        None
                    } else if let Some((f, l)) = seen.get(&norm) {
                        let msg =
                            format!("duplicate person `{norm}` (first at {}:{l})", f.display());
                        self.problem_in(file, e.line, &e.key, msg);
                        None
                    } else {
                        seen.insert(norm.clone(), (file.to_path_buf(), e.line));
                        Some(norm)
                    }
                }
                _ => {
                    self.missing_in(file, p.line, &join(&p.key, "email"), "");
                    None
                }
            };
            let name = match &p.name {
                Some(n) if !n.value.is_empty() => Some(n.value.clone()),
                _ => {
                    self.missing_in(
                        file,
                        p.line,
                        &join(&p.key, "name"),
                        "the person's display name",
                    );
                    None
                }
            };
            let mut roles = Vec::new();
            match &p.roles {
                None => self.missing_in(
                    file,
                    p.line,
                    &join(&p.key, "roles"),
                    "the role names this person holds",
                ),
                Some(rs) if rs.value.is_empty() => {
                    self.problem_in(file, rs.line, &rs.key, "a person needs at least one role");
                }
                Some(rs) => {
                    for r in &rs.value {
                        if role_names.contains(&r.value) {
                            if !roles.contains(&r.value) {
                                roles.push(r.value.clone());
                            }
                        } else {
                            let mut known: Vec<&str> =
                                role_names.iter().map(String::as_str).collect();
                            known.sort_unstable();
                            let msg =
                                format!("unknown role `{}` (roles: {})", r.value, known.join(", "));
                            self.problem_in(file, r.line, &r.key, msg);
                        }
                    }
                }
            }
            let time_zone = match &p.time_zone {
                Some(tz) => self.time_zone(file, tz),
                None => Some(defaults.time_zone),
            };
            let (locale, locale_at) = match &p.locale {
                Some(l) => (self.locale(file, l), (l.line, l.key.clone())),
                None => (
                    Some(defaults.locale.clone()),
                    (p.line, join(&p.key, "locale")),
                ),
            };
            if let Some(l) = &locale {
                locales
                    .entry(l.clone())
                    .or_insert((file.to_path_buf(), locale_at.0, locale_at.1, 0))
                    .3 += 1;
            }
            let frequency = match &p.frequency {
                Some(f) => self.frequency(file, f),
                None => Some(defaults.frequency),
            };
            let matrix_id = match &p.matrix_id {
                Some(m) => match crate::forum::matrix::people::check_user_id(&m.value) {
                    Ok(()) => Some(Some(m.value.clone())),
                    Err(e) => {
                        self.problem_in(file, m.line, &m.key, e.to_string());
                        None
                    }
                },
                None => Some(None),
            };
            if let (
                Some(email),
                Some(name),
                Some(time_zone),
                Some(locale),
                Some(frequency),
                Some(matrix_id),
            ) = (email, name, time_zone, locale, frequency, matrix_id)
            {
                people.push(Person {
                    email,
                    name,
                    roles,
                    time_zone,
                    locale,
                    frequency,
                    matrix_id,
                });
            }
        }
        for (locale, (file, line, key, count)) in locales {
            self.requirements.push(Requirement {
                kind: RequirementKind::Locale,
                path: templates_dir.join("i18n").join(format!("{locale}.toml")),
                file,
                line,
                key,
                needed_by: format!(
                    "locale `{locale}` of {count} {}",
                    if count == 1 { "person" } else { "people" }
                ),
            });
        }
        people
    }
}
