//! The preferences page's HTML, pure: a [`PrefsView`] and a locale's strings in, one
//! self-contained document out (inline CSS, no script, no external resource, a viewport meta and
//! a layout that fits a phone). Everything from config or the store is escaped here.

use chrono::NaiveDate;

use super::prefs_form::PrefsOptions;
use crate::html_escape::escape_html as esc;
use crate::model::Frequency;
use crate::render::i18n::{LocaleTable, Locales};

/// The page's style sheet: one column, readable on a phone, large touch targets.
const CSS: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2933;background:#f5f7fa}\
main{max-width:40rem;margin:0 auto;padding:1rem}\
h1{font-size:1.5rem;margin:.5rem 0 1rem;color:#1e4e79}\
fieldset{border:1px solid #d9dee4;border-radius:6px;background:#fff;margin:0 0 1rem;padding:.75rem 1rem}\
legend{font-weight:600;padding:0 .25rem}\
label{display:flex;gap:.5rem;align-items:flex-start;padding:.3rem 0}\
label.field{display:block}\
input[type=date],select{display:block;width:100%;max-width:28rem;font:inherit;padding:.4rem;margin-top:.25rem}\
input[type=radio],input[type=checkbox]{width:1.2rem;height:1.2rem;margin-top:.15rem;flex:none}\
button{font:inherit;padding:.6rem 1.2rem;border-radius:6px;border:1px solid #1e4e79;background:#1e4e79;color:#fff;cursor:pointer}\
button.quiet{background:#fff;color:#9b1c1c;border-color:#9b1c1c}\
.notice{padding:.75rem 1rem;border-radius:6px;margin:0 0 1rem}\
.ok{background:#e3f9e5;border:1px solid #31a24c}\
.err{background:#ffe3e3;border:1px solid #c53030}\
.hint,small{color:#52606d}\
small{display:block;font-size:.8rem;word-break:break-all}";

/// What the page shows.
#[derive(Debug, Clone)]
pub struct PrefsView<'a> {
    /// The person's name.
    pub name: &'a str,
    /// Their address.
    pub email: &'a str,
    /// What they may choose.
    pub options: &'a PrefsOptions,
    /// The cadence in force (override or config).
    pub frequency: Frequency,
    /// Schedule keys they opted out of.
    pub opted_out: &'a std::collections::BTreeSet<String>,
    /// Groups left out.
    pub excluded: &'a std::collections::HashSet<String>,
    /// The dated pause's last day shown (`None`: no pause running).
    pub pause_day: Option<NaiveDate>,
    /// Paused open-endedly by the `pause` command.
    pub paused_by_mail: bool,
    /// Unsubscribed from everything.
    pub unsubscribed: bool,
    /// The chosen language (`None`: the config's).
    pub locale_override: Option<&'a str>,
    /// The config's language, resolved.
    pub configured_locale: &'a str,
    /// The form's CSRF token.
    pub csrf: &'a str,
    /// A notice above the form: (is an error, locale key).
    pub notice: Option<(bool, &'static str)>,
}

/// The preferences page of `view` in `t`'s language (`lang` is its key, for `<html lang>`).
pub fn page(view: &PrefsView<'_>, t: &LocaleTable, lang: &str, locales: &Locales) -> String {
    let mut b = String::with_capacity(8 * 1024);
    b.push_str(&head(lang, &t.text("prefs_title", &[])));
    b.push_str(&format!(
        "<h1>{}</h1><p>{}</p>",
        esc(&t.text("prefs_title", &[])),
        esc(&t.text("prefs_for", &[("name", view.name), ("email", view.email)]))
    ));
    if let Some((is_error, key)) = view.notice {
        let class = if is_error { "err" } else { "ok" };
        let role = if is_error { "alert" } else { "status" };
        b.push_str(&format!(
            "<p class=\"notice {class}\" id=\"notice\" role=\"{role}\">{}</p>",
            esc(&t.text(key, &[]))
        ));
    }
    if view.unsubscribed {
        b.push_str(&format!(
            "<p class=\"notice err\" id=\"unsubscribed\">{}</p>{}",
            esc(&t.text("prefs_unsubscribed", &[])),
            action_form(
                view.csrf,
                "resubscribe",
                &t.text("prefs_resubscribe", &[]),
                ""
            )
        ));
    }
    b.push_str("<form method=\"post\" action=\"\" id=\"preferences\">");
    b.push_str(&hidden(view.csrf, "save"));
    frequency_fields(&mut b, view, t);
    schedule_fields(&mut b, view, t, lang);
    pause_fields(&mut b, view, t);
    group_fields(&mut b, view, t);
    language_fields(&mut b, view, t, locales);
    b.push_str(&format!(
        "<p><button type=\"submit\" id=\"save\">{}</button></p><p class=\"hint\">{}</p></form>",
        esc(&t.text("prefs_save", &[])),
        esc(&t.text("prefs_next", &[]))
    ));
    if !view.unsubscribed {
        b.push_str(&format!(
            "<fieldset><legend>{}</legend>{}</fieldset>",
            esc(&t.text("prefs_unsubscribe_heading", &[])),
            action_form(
                view.csrf,
                "unsubscribe",
                &t.text("prefs_unsubscribe", &[]),
                "quiet"
            )
        ));
    }
    b.push_str("</main></body></html>\n");
    b
}

/// A page with a title and one paragraph (a refused link, an unknown person, a failure).
pub fn message_page(lang: &str, title: &str, text: &str) -> String {
    format!(
        "{}<h1>{}</h1><p class=\"notice err\" role=\"alert\">{}</p></main></body></html>\n",
        head(lang, title),
        esc(title),
        esc(text)
    )
}

fn head(lang: &str, title: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{}</title><style>{CSS}</style></head>\
         <body><main>",
        esc(lang),
        esc(title)
    )
}

fn hidden(csrf: &str, action: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"action\" value=\"{}\">",
        esc(csrf),
        esc(action)
    )
}

fn action_form(csrf: &str, action: &str, label: &str, class: &str) -> String {
    format!(
        "<form method=\"post\" action=\"\" id=\"{action}-form\">{}\
         <button type=\"submit\" id=\"{action}\" class=\"{class}\">{}</button></form>",
        hidden(csrf, action),
        esc(label)
    )
}

fn checked(on: bool) -> &'static str {
    if on {
        " checked"
    } else {
        ""
    }
}

fn frequency_fields(b: &mut String, view: &PrefsView<'_>, t: &LocaleTable) {
    b.push_str(&format!(
        "<fieldset><legend>{}</legend>",
        esc(&t.text("prefs_frequency", &[]))
    ));
    for (value, f) in [("daily", Frequency::Daily), ("weekly", Frequency::Weekly)] {
        b.push_str(&format!(
            "<label><input type=\"radio\" name=\"frequency\" id=\"frequency-{value}\" \
             value=\"{value}\"{}><span>{}</span></label>",
            checked(view.frequency == f),
            esc(&t.text(&format!("prefs_frequency_{value}"), &[]))
        ));
    }
    b.push_str("</fieldset>");
}

fn schedule_fields(b: &mut String, view: &PrefsView<'_>, t: &LocaleTable, lang: &str) {
    if view.options.schedules.is_empty() {
        return;
    }
    b.push_str(&format!(
        "<fieldset><legend>{}</legend>",
        esc(&t.text("prefs_schedules", &[]))
    ));
    for (i, s) in view.options.schedules.iter().enumerate() {
        let roles = s
            .roles
            .iter()
            .map(|r| r.get(lang))
            .collect::<Vec<_>>()
            .join(", ");
        b.push_str(&format!(
            "<label><input type=\"checkbox\" name=\"schedule\" id=\"schedule-{i}\" \
             value=\"{}\"{}><span>{}<small>{}</small></span></label>",
            esc(&s.key),
            checked(!view.opted_out.contains(&s.key)),
            esc(&t.text(
                if s.key.starts_with(crate::best_of::SCHEDULE_PREFIX) {
                    "prefs_best_of_item"
                } else {
                    "prefs_schedule_item"
                },
                &[("roles", &roles)]
            )),
            esc(&s.key)
        ));
    }
    b.push_str("</fieldset>");
}

fn pause_fields(b: &mut String, view: &PrefsView<'_>, t: &LocaleTable) {
    let day = view
        .pause_day
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    b.push_str(&format!(
        "<fieldset><legend>{}</legend><label class=\"field\" for=\"pause_until\">{}\
         <input type=\"date\" name=\"pause_until\" id=\"pause_until\" value=\"{}\" \
         placeholder=\"YYYY-MM-DD\" pattern=\"\\d{{4}}-\\d{{2}}-\\d{{2}}\"></label>",
        esc(&t.text("prefs_pause", &[])),
        esc(&t.text("prefs_pause_until", &[])),
        esc(&day)
    ));
    if view.paused_by_mail {
        b.push_str(&format!(
            "<p class=\"hint\">{}</p><label><input type=\"checkbox\" name=\"resume\" \
             id=\"resume\" value=\"1\"><span>{}</span></label>",
            esc(&t.text("prefs_paused_by_mail", &[])),
            esc(&t.text("prefs_resume", &[]))
        ));
    }
    b.push_str("</fieldset>");
}

fn group_fields(b: &mut String, view: &PrefsView<'_>, t: &LocaleTable) {
    if view.options.groups.is_empty() {
        return;
    }
    b.push_str(&format!(
        "<fieldset><legend>{}</legend><p class=\"hint\">{}</p>",
        esc(&t.text("prefs_groups", &[])),
        esc(&t.text("prefs_groups_hint", &[]))
    ));
    for (id, name) in &view.options.groups {
        b.push_str(&format!(
            "<label><input type=\"checkbox\" name=\"group\" id=\"group-{}\" value=\"{}\"{}>\
             <span>{}</span></label>",
            esc(id),
            esc(id),
            checked(!view.excluded.contains(id)),
            esc(name)
        ));
    }
    b.push_str("</fieldset>");
}

fn language_fields(b: &mut String, view: &PrefsView<'_>, t: &LocaleTable, locales: &Locales) {
    let name_of = |l: &str| {
        locales
            .table(l)
            .get("language_name")
            .map_or_else(|| l.to_string(), str::to_string)
    };
    b.push_str(&format!(
        "<fieldset><legend>{}</legend><select name=\"locale\" id=\"locale\" aria-label=\"{}\">\
         <option value=\"\"{}>{}</option>",
        esc(&t.text("prefs_language", &[])),
        esc(&t.text("prefs_language", &[])),
        if view.locale_override.is_none() {
            " selected"
        } else {
            ""
        },
        esc(&t.text(
            "prefs_language_default",
            &[("language", &name_of(view.configured_locale))]
        ))
    ));
    for l in &view.options.locales {
        b.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>",
            esc(l),
            if view.locale_override == Some(l.as_str()) {
                " selected"
            } else {
                ""
            },
            esc(&name_of(l))
        ));
    }
    b.push_str("</select></fieldset>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::prefs_form::ScheduleOption;
    use crate::model::LocalText;
    use std::collections::{BTreeSet, HashSet};

    fn locales() -> Locales {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/i18n");
        let files: Vec<_> = ["en", "nl"]
            .iter()
            .map(|l| {
                let p = dir.join(format!("{l}.toml"));
                let text = std::fs::read_to_string(&p).expect("locale file");
                (p, text)
            })
            .collect();
        Locales::from_files(&dir, &files).expect("locales")
    }

    #[test]
    fn the_page_is_self_contained_escaped_and_localised() {
        let options = PrefsOptions {
            schedules: vec![
                ScheduleOption {
                    key: "0 0 7 * * *@UTC".into(),
                    roles: vec![LocalText {
                        default: "Planner".into(),
                        by_locale: [("nl".to_string(), "Planners & co".to_string())].into(),
                    }],
                },
                ScheduleOption {
                    key: "best-of:planner:0 0 8 1 * *@UTC".into(),
                    roles: vec![LocalText::plain("Planner".to_string())],
                },
            ],
            groups: vec![
                ("a\"b".into(), "<Group>".into()),
                ("it".into(), "IT".into()),
            ],
            locales: vec!["en".into(), "nl".into()],
            time_zone: chrono_tz::UTC,
            configured_frequency: Frequency::Weekly,
        };
        let excluded: HashSet<String> = ["it".to_string()].into();
        let opted_out = BTreeSet::new();
        let view = PrefsView {
            name: "Ann <script>",
            email: "ann@x.org",
            options: &options,
            frequency: Frequency::Daily,
            opted_out: &opted_out,
            excluded: &excluded,
            pause_day: NaiveDate::from_ymd_opt(2030, 1, 2),
            paused_by_mail: true,
            unsubscribed: false,
            locale_override: Some("nl"),
            configured_locale: "en",
            csrf: "tok",
            notice: Some((false, "prefs_saved")),
        };
        let l = locales();
        let html = page(&view, l.table("nl"), "nl", &l);
        for needle in [
            "<html lang=\"nl\">",
            "name=\"viewport\" content=\"width=device-width, initial-scale=1\"",
            "Uw voorkeuren voor het overzicht",
            "Ann &lt;script&gt;",
            "Planners &amp; co",
            "value=\"a&quot;b\" checked",
            "&lt;Group&gt;",
            "id=\"group-it\" value=\"it\"><span>IT",
            "id=\"frequency-daily\" value=\"daily\" checked",
            "value=\"2030-01-02\"",
            "id=\"resume\"",
            "<option value=\"nl\" selected>Nederlands</option>",
            "Zoals uw organisatie het instelde (English)",
            "name=\"csrf\" value=\"tok\"",
            "id=\"unsubscribe\"",
            // The role's monthly best-of is a choice of its own.
            "value=\"best-of:planner:0 0 8 1 * *@UTC\" checked><span>Maandelijks het beste van de leestips voor Planner",
        ] {
            assert!(html.contains(needle), "lacks {needle:?}:\n{html}");
        }
        assert_eq!(html.matches("name=\"csrf\"").count(), 2, "each form");
        for absent in ["<script", "http://", "https://", "src="] {
            assert!(!html.contains(absent), "has {absent:?}");
        }
        let refused = message_page("en", "Link expired", "Open <the> latest");
        assert!(refused.contains("Open &lt;the&gt; latest") && refused.contains("viewport"));
    }
}
