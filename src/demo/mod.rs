//! `digestd demo`: the newcomer's first command.
//!
//! Writes a sample municipality into a folder (its config, people, templates and a store with a
//! week of forum posts), runs one full cycle into a Maildir outbox there, and says where to look.
//! Running it again reuses the folder: the posts are not loaded twice and nobody gets a second
//! digest for the same posts.

pub mod content;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{Duration, Utc};
use include_dir::{include_dir, Dir};

use crate::config::{Config, TransportConfig};
use crate::delivery_run::{self, open_synced_store};
use crate::forum::local::{import_records, ImportRecord};
use crate::model::Person;

/// The templates, compiled in.
static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");
/// Marks a demo folder whose forum posts are loaded.
const SEEDED_MARKER: &str = ".demo-seeded";

/// Creates (or reuses) the demo organisation in `dir`, runs one cycle and prints a summary.
pub fn run(dir: &Path) -> anyhow::Result<()> {
    let config_path = write_files(dir)?;
    let config = Config::load(&config_path)
        .map_err(|e| anyhow::anyhow!("the demo configuration is invalid:\n{e}"))?;
    let mut store = open_synced_store(&config)?;
    let marker = dir.join(SEEDED_MARKER);
    let seeded_now = if marker.exists() {
        0
    } else {
        let n = import_records(&mut store, demo_records(&config))
            .context("loading the demo's forum posts")?;
        nominate_demo_highlights(&config, &mut store)?;
        fs::write(&marker, format!("{n} posts loaded\n"))
            .with_context(|| format!("writing {}", marker.display()))?;
        n
    };
    drop(store);

    let report = delivery_run::send_now(&config, None, None)?;
    let outbox = match &config.mail.transport {
        TransportConfig::Maildir { path } => path.clone(),
        _ => dir.join("outbox"),
    };
    print_summary(&config, &config_path, &outbox, seeded_now, &report);
    Ok(())
}

/// Writes config, people and templates into `dir` unless they are already there; returns the
/// config path.
fn write_files(dir: &Path) -> anyhow::Result<PathBuf> {
    let config_dir = dir.join("config");
    fs::create_dir_all(&config_dir)
        .with_context(|| format!("creating {}", config_dir.display()))?;
    let config_path = config_dir.join("digestd.toml");
    write_if_missing(&config_path, crate::config::EXAMPLE_TOML.as_bytes())?;
    write_if_missing(
        &config_dir.join("people.csv"),
        crate::config::EXAMPLE_PEOPLE_CSV.as_bytes(),
    )?;
    let templates = dir.join("templates");
    extract_missing(&TEMPLATES, &templates)?;
    Ok(config_path)
}

fn write_if_missing(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if !path.exists() {
        fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Extracts the compiled-in templates, keeping any file an admin already edited.
fn extract_missing(dir: &Dir<'_>, to: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for file in dir.files() {
        write_if_missing(
            &to.join(file.path().file_name().unwrap_or_default()),
            file.contents(),
        )?;
    }
    for sub in dir.dirs() {
        extract_missing(sub, &to.join(sub.path().file_name().unwrap_or_default()))?;
    }
    Ok(())
}

/// The demo's posts as import records, written by people of the roles that follow each group.
fn demo_records(config: &Config) -> Vec<ImportRecord> {
    let now = Utc::now();
    let mut out = Vec::new();
    for (t, thread) in content::THREADS.iter().enumerate() {
        let members = members_of(config, thread.group);
        if members.is_empty() {
            continue;
        }
        for post in thread.posts {
            let author = members[post.author % members.len()];
            out.push(ImportRecord {
                group: thread.group.to_owned(),
                thread: format!("demo-{t}"),
                title: Some(thread.title.to_owned()),
                author: author.email.clone(),
                author_name: Some(author.name.clone()),
                created: Some(now - Duration::hours(post.hours_ago)),
                body: post.body.to_owned(),
                tags: post.tags.iter().map(|s| (*s).to_owned()).collect(),
                likes: post.likes,
                best_answer: post.best_answer,
            });
        }
    }
    out
}

/// Collects the imported posts and nominates the demo's nominated posts as training highlights,
/// each by the group member after its author (an ambassador of the group, once ambassadors are
/// configured).
fn nominate_demo_highlights(
    config: &Config,
    store: &mut crate::store::Store,
) -> anyhow::Result<()> {
    crate::collect::collect_all(config, store).context("collecting the demo's posts")?;
    let now = Utc::now();
    let groups: Vec<String> = config.groups.iter().map(|g| g.id.clone()).collect();
    let (_, posts) = store.load_activity(&groups, now - Duration::days(60), &[], now, 0)?;
    for thread in content::THREADS {
        let members = members_of(config, thread.group);
        if members.is_empty() {
            continue;
        }
        for demo in thread.posts.iter().filter(|p| p.nominated) {
            let Some(post) = posts
                .iter()
                .find(|p| p.group_id == thread.group && p.body == demo.body)
            else {
                continue;
            };
            let by = members[(demo.author + 1) % members.len()];
            store.nominate_highlight(post.id, &post.group_id, &by.email, now)?;
        }
    }
    Ok(())
}

/// People holding a role that follows `group` (everyone, if no role does).
fn members_of<'a>(config: &'a Config, group: &str) -> Vec<&'a Person> {
    let following: Vec<&str> = config
        .roles
        .iter()
        .filter(|r| r.groups.iter().any(|g| g == group))
        .map(|r| r.name.as_str())
        .collect();
    let members: Vec<&Person> = config
        .people
        .iter()
        .filter(|p| p.roles.iter().any(|r| following.contains(&r.as_str())))
        .collect();
    if members.is_empty() {
        config.people.iter().collect()
    } else {
        members
    }
}

fn print_summary(
    config: &Config,
    config_path: &Path,
    outbox: &Path,
    seeded: usize,
    report: &delivery_run::RunReport,
) {
    let example = config
        .people
        .first()
        .map_or("someone@example.org", |p| p.email.as_str());
    println!(
        "digestd demo: {} ({})",
        config.organisation,
        config_path.display()
    );
    println!(
        "  {} people, {} roles, {} groups{}",
        config.people.len(),
        config.roles.len(),
        config.groups.len(),
        if seeded > 0 {
            format!(", {seeded} forum posts from the past week loaded")
        } else {
            String::new()
        }
    );
    if report.sent + report.resumed > 0 {
        println!(
            "  digests sent: {} ({} with nothing new, {} skipped: opted out or not due)",
            report.sent + report.resumed,
            report.empty,
            report.skipped
        );
    } else {
        println!(
            "  nothing new to send: everyone already got the digest for these posts \
             ({} with nothing new, {} skipped). Add a post with `digestd post` and run again.",
            report.empty, report.skipped
        );
    }
    if report.failed > 0 {
        println!("  failed: {} (see the log above)", report.failed);
    }
    println!(
        "  outbox (Maildir, one complete message per file): {}",
        outbox.join("new").display()
    );
    println!("  preview one in a browser (--include-sent: as if it had not been sent yet):");
    println!(
        "    digestd preview -c {} --person {example} --include-sent --html > /tmp/digest.html && xdg-open /tmp/digest.html",
        config_path.display()
    );
    println!(
        "  read a thread: digestd thread -c {} 1",
        config_path.display()
    );
    // A role's monthly best-of: the demo's posts are this month's, so name this month.
    if let Some(role) = config.roles.iter().find(|r| r.best_of.is_some()) {
        println!(
            "  a role's monthly best-of (the daemon sends last month's on its best_of schedule):\n    digestd best-of -c {} --role {} --month {}",
            config_path.display(),
            role.name,
            Utc::now().format("%Y-%m")
        );
    }
}
