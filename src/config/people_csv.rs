//! People from a CSV file (`email,name,roles,time_zone,locale,frequency[,matrix_id]`), and the
//! source-neutral shape ([`PersonIn`]) that inline `[[people]]` are turned into as well.
//!
//! Large organisations export staff lists from HR systems; a CSV keeps those out of the TOML.
//! Pure: parses text, no I/O.

use std::path::PathBuf;

use super::doc::{DocProblem, LineIndex};

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct At<T> {
    /// The value.
    pub value: T,
    /// 1-based line.
    pub line: usize,
    /// Key (TOML: dotted path; CSV: column name).
    pub key: String,
}

/// A person as written, inline or in CSV, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PersonIn {
    /// File the person was written in.
    pub file: PathBuf,
    /// Line of the person (`[[people]]` header or CSV row).
    pub line: usize,
    /// Key prefix for problems about the person as a whole (`people[3]` or empty for CSV).
    pub key: String,
    pub email: Option<At<String>>,
    pub name: Option<At<String>>,
    /// Role names; `None` when the key is absent.
    pub roles: Option<At<Vec<At<String>>>>,
    pub time_zone: Option<At<String>>,
    pub locale: Option<At<String>>,
    pub frequency: Option<At<String>>,
    /// The person's Matrix user id (`@user:server`), when not made by a forum's template.
    pub matrix_id: Option<At<String>>,
}

/// The columns a people CSV may have.
pub(crate) const COLUMNS: [&str; 7] = [
    "email",
    "name",
    "roles",
    "time_zone",
    "locale",
    "frequency",
    "matrix_id",
];

/// Parses a people CSV. Empty cells are `None` (the `[defaults]` apply); roles split on `;`.
/// Lines starting with `#` are comments.
pub(crate) fn parse_people_csv(text: &str, file: PathBuf) -> (Vec<PersonIn>, Vec<DocProblem>) {
    let mut people = Vec::new();
    let mut problems = Vec::new();
    // The reader's positions point before any comment or blank lines it skipped to reach a
    // record, and its line count ignores comment lines: skip those lines ourselves.
    let lines = LineIndex::new(text);
    let line_of = |pos: Option<&csv::Position>| {
        pos.map_or(0, |p| {
            lines.line(skip_blank_and_comments(text, p.byte() as usize))
        })
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());

    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            problems.push(csv_error(&e, "header", &lines));
            return (people, problems);
        }
    };
    let header_line = line_of(headers.position()).max(1);
    let mut column_of = [None; COLUMNS.len()];
    for (i, name) in headers.iter().enumerate() {
        match COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(name)) {
            Some(c) if column_of[c].is_none() => column_of[c] = Some(i),
            Some(_) => problems.push(DocProblem {
                line: header_line,
                key: name.to_string(),
                message: "column appears twice in the header".into(),
            }),
            None => problems.push(DocProblem {
                line: header_line,
                key: name.to_string(),
                message: format!("unknown column, expected {}", COLUMNS.join(",")),
            }),
        }
    }
    for required in ["email", "name", "roles"] {
        let idx = COLUMNS.iter().position(|c| *c == required);
        if idx.and_then(|i| column_of[i]).is_none() {
            problems.push(DocProblem {
                line: header_line,
                key: required.to_string(),
                message: format!("missing column (header: {})", COLUMNS.join(",")),
            });
        }
    }
    if !problems.is_empty() {
        return (people, problems);
    }

    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(csv_error(&e, "row", &lines));
                continue;
            }
        };
        let line = line_of(record.position());
        if record.len() > headers.len() {
            problems.push(DocProblem {
                line,
                key: "row".into(),
                message: format!(
                    "{} cells, but the header has {} columns (quote cells holding commas)",
                    record.len(),
                    headers.len()
                ),
            });
            continue;
        }
        let cell = |c: usize| -> Option<At<String>> {
            let i = column_of[c]?;
            let v = record.get(i).unwrap_or_default();
            (!v.is_empty()).then(|| At {
                value: v.to_string(),
                line,
                key: COLUMNS[c].to_string(),
            })
        };
        let roles = column_of[2].map(|i| At {
            value: record
                .get(i)
                .unwrap_or_default()
                .split(';')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(|r| At {
                    value: r.to_string(),
                    line,
                    key: "roles".into(),
                })
                .collect(),
            line,
            key: "roles".into(),
        });
        people.push(PersonIn {
            file: file.clone(),
            line,
            key: String::new(),
            email: cell(0),
            name: cell(1),
            roles,
            time_zone: cell(3),
            locale: cell(4),
            frequency: cell(5),
            matrix_id: cell(6),
        });
    }
    (people, problems)
}

/// The offset of the first line at or after `offset` that is neither blank nor a `#` comment.
fn skip_blank_and_comments(text: &str, mut offset: usize) -> usize {
    while let Some(rest) = text.get(offset..) {
        let line = rest.split_inclusive('\n').next().unwrap_or_default();
        let content = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() || !(content.is_empty() || content.starts_with('#')) {
            break;
        }
        offset += line.len();
    }
    offset
}

fn csv_error(e: &csv::Error, key: &str, lines: &LineIndex) -> DocProblem {
    DocProblem {
        line: e.position().map_or(0, |p| lines.line(p.byte() as usize)),
        key: key.to_string(),
        message: format!("CSV: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Vec<PersonIn>, Vec<DocProblem>) {
        parse_people_csv(text, PathBuf::from("people.csv"))
    }

    #[test]
    fn reads_rows_with_lines_and_empty_cells() {
        let text = "email,name,roles,time_zone,locale,frequency\n\
                    # a comment\n\
                    \n\
                    a@x.example,Anna,social-worker;all-staff,,nl,daily\n\
                    b@x.example,\"Bakker, B.\",hr-advisor,Europe/Amsterdam,,\n";
        let (people, problems) = parse(text);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(people.len(), 2);
        assert_eq!(people[0].line, 4);
        let roles: Vec<&str> = people[0]
            .roles
            .as_ref()
            .map(|r| r.value.iter().map(|r| r.value.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(roles, vec!["social-worker", "all-staff"]);
        assert!(people[0].time_zone.is_none());
        assert_eq!(
            people[1].name.as_ref().map(|n| n.value.as_str()),
            Some("Bakker, B.")
        );
        assert_eq!(people[1].line, 5);
        assert!(people[1].frequency.is_none());
    }

    #[test]
    fn the_matrix_id_column_is_optional_per_row() {
        let (people, problems) =
            parse("email,name,roles,matrix_id\na@x,A,r,@anna:example.org\nb@x,B,r,\n");
        assert!(problems.is_empty(), "{problems:?}");
        let id = people[0].matrix_id.as_ref().expect("matrix_id");
        assert_eq!(
            (id.value.as_str(), id.line, id.key.as_str()),
            ("@anna:example.org", 2, "matrix_id")
        );
        assert!(people[1].matrix_id.is_none());
    }

    #[test]
    fn unknown_and_missing_columns_are_reported() {
        let (_, problems) = parse("email,name,team\n");
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, vec!["team", "roles"]);
        assert!(problems.iter().all(|p| p.line == 1));
    }

    #[test]
    fn too_many_cells_is_a_problem_on_its_line() {
        let (people, problems) = parse("email,name,roles\na@x,A,r\nb@x,B,r,extra,cells,here,now\n");
        assert_eq!(people.len(), 1);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 3);
    }
}
