//! The configured people indexed by address, for paths that look up many senders or authors
//! (an inbound batch, an import) instead of scanning every person each time.

use std::collections::HashMap;

use crate::model::{normalize_email, Person};

/// People by normalised address. When several people share an address the first one wins,
/// as in [`crate::config::Config::person`].
#[derive(Debug, Clone)]
pub struct PeopleIndex<'a> {
    people: &'a [Person],
    by_email: HashMap<&'a str, usize>,
}

impl<'a> PeopleIndex<'a> {
    /// Indexes `people` (their addresses are already normalised by the config loader).
    pub fn new(people: &'a [Person]) -> Self {
        let mut by_email = HashMap::with_capacity(people.len());
        for (i, p) in people.iter().enumerate() {
            by_email.entry(p.email.as_str()).or_insert(i);
        }
        PeopleIndex { people, by_email }
    }

    /// The person with address `email`, compared as [`normalize_email`] does (case, angle
    /// brackets, surrounding space).
    pub fn get(&self, email: &str) -> Option<&'a Person> {
        let people: &'a [Person] = self.people;
        self.by_email
            .get(normalize_email(email).as_str())
            .and_then(|&i| people.get(i))
    }

    /// How many distinct addresses are indexed.
    pub fn len(&self) -> usize {
        self.by_email.len()
    }

    /// True when no person is configured.
    pub fn is_empty(&self) -> bool {
        self.by_email.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Frequency;

    fn person(email: &str, name: &str) -> Person {
        Person {
            email: email.into(),
            name: name.into(),
            roles: Vec::new(),
            time_zone: chrono_tz::UTC,
            locale: "en".into(),
            frequency: Frequency::Weekly,
            matrix_id: None,
        }
    }

    #[test]
    fn the_first_person_with_an_address_wins_and_lookups_ignore_case_and_brackets() {
        let people = vec![
            person("ann@example.org", "Ann"),
            person("bob@example.org", "Bob"),
            person("ann@example.org", "Ann again"),
        ];
        let index = PeopleIndex::new(&people);
        assert_eq!(index.len(), 2);
        assert_eq!(
            index.get("ann@example.org").map(|p| p.name.as_str()),
            Some("Ann")
        );
        assert_eq!(
            index.get(" <BOB@Example.ORG>").map(|p| p.name.as_str()),
            Some("Bob")
        );
        assert!(index.get("carol@example.org").is_none());
        assert!(PeopleIndex::new(&[]).is_empty());
    }
}
