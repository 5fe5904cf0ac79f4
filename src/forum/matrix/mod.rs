//! The Matrix connector (`kind = "matrix"`): rooms are groups, read by a bot user and written
//! as the people themselves, through an application service on the homeserver.
//!
//! - **Reading.** The bot (`@<bot_user>:<server_name>`, a user of the application service,
//!   registered and joined to each room on first use) pages through a room with
//!   `GET /rooms/{roomId}/messages?dir=f`; the cursor is the page's `end` token, so a restart
//!   resumes where the last stored page ended. A thread reply whose root is not in the same page
//!   brings its root's thread along (one `GET /rooms/{roomId}/event/{eventId}`, remembered).
//!   What an event means is decided in [`events`] (pure).
//! - **Writing.** A reply or a new thread is sent as the person's own Matrix user
//!   ([`people`]: `matrix_id`, else the `user_id_template`), masqueraded with `?user_id=`; the
//!   user is registered through the application service and joined to the room first (invited by
//!   the bot when the room needs an invitation). The idempotency key makes the transaction id of
//!   `PUT /rooms/{roomId}/send/m.room.message/{txnId}`, so a retried post is stored once.
//! - **Errors.** No connection, 429 and 5xx are transient ([`ForumError::Unavailable`]);
//!   403/404 and the like are [`ForumError::Refused`] with the homeserver's reason.

pub mod client;
pub mod events;
pub mod people;

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use self::client::Client;
use self::events::{Classified, Message};
use self::people::Directory;
use crate::config::{Config, ForumConfig, ForumSettings};
use crate::forum::{Author, Cursor, FetchBatch, FetchedPost, Forum, ForumError, Posted};
use crate::model::{Group, GroupSource, Post, Thread};

/// Thread roots remembered per connector before the memory is cleared.
const ROOT_CACHE_LIMIT: usize = 50_000;

/// Everything needed to reach one homeserver as its application service.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Base URL of the homeserver (`https://matrix.example.org`).
    pub homeserver: String,
    /// The server name in user ids (`example.org`).
    pub server_name: String,
    /// The application service's `as_token`.
    pub as_token: String,
    /// Localpart of the bot user that reads the rooms.
    pub bot_user: String,
    /// How a person's address becomes a user id ([`people::DEFAULT_TEMPLATE`] when empty).
    pub user_id_template: String,
}

/// What the connector remembers between calls (all of it can be lost: it is asked again).
#[derive(Debug, Default)]
struct Memory {
    /// Room id per configured room (id or alias).
    rooms: HashMap<String, String>,
    /// Users known to be registered.
    registered: HashSet<String>,
    /// (user, room id) known to be joined.
    joined: HashSet<(String, String)>,
    /// Thread per (room id, root event id).
    roots: HashMap<(String, String), Thread>,
}

/// A Matrix homeserver as a [`crate::forum::Forum`].
pub struct MatrixForum {
    client: Client,
    server_name: String,
    bot: String,
    people: Directory,
    memory: Mutex<Memory>,
}

impl std::fmt::Debug for MatrixForum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixForum")
            .field("homeserver", &self.client.base())
            .field("bot", &self.bot)
            .finish()
    }
}

impl MatrixForum {
    /// The connector of forum instance `forum` (`kind = "matrix"`): reads the `as_token` from
    /// its file and maps the config's people to Matrix users.
    pub fn open(config: &Config, forum: &ForumConfig) -> Result<MatrixForum, ForumError> {
        let ForumSettings::Matrix(settings) = &forum.settings else {
            return Err(ForumError::Refused(format!(
                "forum `{}` is not a Matrix forum",
                forum.name
            )));
        };
        let as_token = std::fs::read_to_string(&settings.as_token_file).map_err(|e| {
            ForumError::Unavailable(format!(
                "reading as_token_file {}: {e}",
                settings.as_token_file.display()
            ))
        })?;
        let as_token = as_token.trim();
        if as_token.is_empty() {
            return Err(ForumError::Refused(format!(
                "as_token_file {} is empty",
                settings.as_token_file.display()
            )));
        }
        let connection = Connection {
            homeserver: settings.homeserver.clone(),
            server_name: settings.server_name.clone(),
            as_token: as_token.to_string(),
            bot_user: settings.bot_user.clone(),
            user_id_template: settings.user_id_template.clone(),
        };
        let people = Directory::new(
            &connection.user_id_template,
            &connection.server_name,
            config
                .people
                .iter()
                .map(|p| (p.email.as_str(), p.name.as_str(), person_matrix_id(p))),
        );
        Ok(MatrixForum::new(&connection, people))
    }

    /// A connector over `connection`, mapping senders and authors through `people`.
    pub fn new(connection: &Connection, people: Directory) -> MatrixForum {
        MatrixForum {
            client: Client::new(&connection.homeserver, &connection.as_token),
            server_name: connection.server_name.clone(),
            bot: format!("@{}:{}", connection.bot_user, connection.server_name),
            people,
            memory: Mutex::new(Memory::default()),
        }
    }

    /// The HTTP client (the benchmark reads pages through it unparsed).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bot's user id.
    pub fn bot(&self) -> &str {
        &self.bot
    }

    fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The room id of `room` (an id, or an alias resolved through the directory once).
    pub fn room_id(&self, room: &str) -> Result<String, ForumError> {
        let room = room.trim();
        if let Some(id) = self.memory().rooms.get(room) {
            return Ok(id.clone());
        }
        let id = match room.chars().next() {
            Some('!') => room.to_string(),
            Some('#') => self.client.resolve_alias(room)?,
            _ => {
                return Err(ForumError::Refused(format!(
                    "{room:?} is neither a room id (!id:server) nor an alias (#name:server)"
                )))
            }
        };
        self.memory().rooms.insert(room.to_string(), id.clone());
        Ok(id)
    }

    /// Registers `user` through the application service once (a local user only), naming them
    /// `name` when new.
    fn ensure_registered(&self, user: &str, name: Option<&str>) -> Result<(), ForumError> {
        if self.memory().registered.contains(user) {
            return Ok(());
        }
        let local_server = user
            .split_once(':')
            .is_some_and(|(_, server)| server == self.server_name);
        if local_server {
            let new = self.client.register(people::localpart(user))?;
            if let (true, Some(name)) = (new, name.filter(|n| !n.trim().is_empty())) {
                self.client.set_display_name(user, name)?;
            }
        }
        self.memory().registered.insert(user.to_string());
        Ok(())
    }

    /// Joins `user` to `room_id` once; when the room wants an invitation, the bot (already a
    /// member) invites them first.
    fn ensure_joined(&self, user: &str, room_id: &str) -> Result<(), ForumError> {
        let key = (user.to_string(), room_id.to_string());
        if self.memory().joined.contains(&key) {
            return Ok(());
        }
        match self.client.join(user, room_id) {
            Ok(_) => {}
            Err(ForumError::Refused(first)) if user != self.bot => {
                self.ensure_joined(&self.bot, room_id)?;
                self.client.invite(&self.bot, room_id, user).map_err(|e| {
                    ForumError::Refused(format!("{first}; the bot could not invite them: {e}"))
                })?;
                self.client.join(user, room_id)?;
            }
            Err(ForumError::Refused(m)) => {
                return Err(ForumError::Refused(format!(
                    "{m} (invite {} into the room, or make it joinable)",
                    self.bot
                )))
            }
            Err(e) => return Err(e),
        }
        self.memory().joined.insert(key);
        Ok(())
    }

    /// The bot, registered and in `room_id`.
    fn ensure_bot_in(&self, room_id: &str) -> Result<(), ForumError> {
        let bot = self.bot.clone();
        self.ensure_registered(&bot, None)?;
        self.ensure_joined(&bot, room_id)
    }

    /// One page of `room` (the group's room id or alias) after `cursor`, at most `limit` posts.
    pub fn fetch_room(
        &self,
        group: &Group,
        room: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<FetchBatch, ForumError> {
        let room_id = self.room_id(room)?;
        self.ensure_bot_in(&room_id)?;
        let from = cursor.map(|c| c.0.as_str()).filter(|c| !c.is_empty());
        let page = self.client.messages(&self.bot, &room_id, from, limit)?;
        let names: HashMap<&str, &str> = events::display_names(&page.state).collect();
        let mut threads: Vec<Thread> = Vec::new();
        let mut in_page: HashSet<String> = HashSet::new();
        let mut posts = Vec::with_capacity(page.chunk.len());
        for event in &page.chunk {
            let (root, message) = match events::classify(event) {
                Classified::Skip => continue,
                Classified::Root(m) => {
                    let thread = self.thread_of(group, &room_id, &m);
                    self.remember_root(&room_id, &thread);
                    in_page.insert(thread.remote_id.clone());
                    threads.push(thread);
                    (m.event_id.clone(), m)
                }
                Classified::InThread { root, message } => {
                    if in_page.insert(root.clone()) {
                        threads.push(self.root_thread(group, &room_id, &root, &message)?);
                    }
                    (root, message)
                }
            };
            posts.push(FetchedPost {
                thread_remote_id: root,
                post: self.post_of(group, &room_id, message, &names),
            });
        }
        let more = page.end.is_some() && !page.chunk.is_empty();
        let next = page
            .end
            .or_else(|| from.map(str::to_string))
            .unwrap_or_default();
        Ok(FetchBatch {
            threads,
            posts,
            next_cursor: Cursor(next),
            more,
        })
    }

    fn thread_of(&self, group: &Group, room_id: &str, root: &Message) -> Thread {
        Thread {
            id: 0,
            group_id: group.id.clone(),
            remote_id: root.event_id.clone(),
            title: events::title_of(&root.plain),
            url: events::event_link(room_id, &root.event_id),
            created: root.created,
        }
    }

    fn remember_root(&self, room_id: &str, thread: &Thread) {
        let mut memory = self.memory();
        if memory.roots.len() >= ROOT_CACHE_LIMIT {
            memory.roots.clear();
        }
        memory.roots.insert(
            (room_id.to_string(), thread.remote_id.clone()),
            thread.clone(),
        );
    }

    /// The thread of a reply whose root is not in the page: remembered, else read from the
    /// homeserver; a root that cannot be read any more (redacted, not visible) still makes a
    /// thread, titled after the reply.
    fn root_thread(
        &self,
        group: &Group,
        room_id: &str,
        root: &str,
        reply: &Message,
    ) -> Result<Thread, ForumError> {
        let key = (room_id.to_string(), root.to_string());
        if let Some(t) = self.memory().roots.get(&key) {
            let mut t = t.clone();
            t.group_id = group.id.clone();
            return Ok(t);
        }
        let thread = match self.client.event(&self.bot, room_id, root) {
            Ok(event) => match events::classify(&event) {
                Classified::Root(m) => Some(self.thread_of(group, room_id, &m)),
                _ => None,
            },
            Err(ForumError::Refused(_)) => None,
            Err(e) => return Err(e),
        };
        let thread = thread.unwrap_or_else(|| Thread {
            id: 0,
            group_id: group.id.clone(),
            remote_id: root.to_string(),
            title: events::title_of(&reply.plain),
            url: events::event_link(room_id, root),
            created: reply.created,
        });
        self.remember_root(room_id, &thread);
        Ok(thread)
    }

    fn post_of(
        &self,
        group: &Group,
        room_id: &str,
        m: Message,
        names: &HashMap<&str, &str>,
    ) -> Post {
        let (author_email, author_name) = match self.people.member(&m.sender) {
            Some(member) => (member.email.clone(), member.name.clone()),
            None => (
                m.sender.clone(),
                names.get(m.sender.as_str()).map_or_else(
                    || people::localpart(&m.sender).to_string(),
                    |n| n.to_string(),
                ),
            ),
        };
        Post {
            id: 0,
            thread_id: 0,
            group_id: group.id.clone(),
            url: events::event_link(room_id, &m.event_id),
            remote_id: m.event_id,
            author_email,
            author_name,
            created: m.created,
            body: m.body,
            body_format: m.format,
            tags: Vec::new(),
            likes: 0,
            reply_count: m.thread_replies,
            best_answer: false,
        }
    }

    /// Posts `body` (Markdown) into `room` as `author`: into the thread of the root event
    /// `thread_root`, or as a new thread's root (titled `title` when given).
    pub fn post_in_room(
        &self,
        room: &str,
        thread_root: Option<&str>,
        author: &Author,
        title: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<Posted, ForumError> {
        if let Some(root) = thread_root {
            if !root.starts_with('$') {
                return Err(ForumError::Refused(format!(
                    "{root:?} is not a Matrix event id (a thread is named by its root event, $...)"
                )));
            }
        }
        let room_id = self.room_id(room)?;
        let user = self.people.user_id_for(&author.email).map_err(|e| {
            ForumError::Refused(format!("no Matrix user for {}: {e}", author.email))
        })?;
        self.ensure_registered(&user, Some(&author.name))?;
        self.ensure_joined(&user, &room_id)?;
        let title = title.trim();
        let markdown = if thread_root.is_none() && !title.is_empty() {
            format!("**{title}**\n\n{body}")
        } else {
            body.to_string()
        };
        let content =
            events::message_content(&markdown, &events::markdown_html(&markdown), thread_root);
        let txn = events::txn_id(&room_id, idempotency_key);
        let event_id = self.client.send_message(&user, &room_id, &txn, &content)?;
        Ok(Posted {
            url: events::event_link(&room_id, &event_id),
            remote_thread_id: thread_root.map_or_else(|| event_id.clone(), str::to_string),
            remote_post_id: event_id,
        })
    }

    /// Checks the token (whoami) and, for each `(group id, room)`, that the room exists and the
    /// bot can read it. Every failure is named in the one error returned.
    pub fn check_rooms(&self, rooms: &[(&str, &str)]) -> Result<(), ForumError> {
        self.client.whoami(None)?;
        let mut failures = Vec::new();
        let mut transient = false;
        for (group, room) in rooms {
            let result = self.room_id(room).and_then(|id| {
                self.ensure_bot_in(&id)?;
                self.client.messages(&self.bot, &id, None, 1).map(drop)
            });
            if let Err(e) = result {
                transient |= e.is_transient();
                failures.push(format!("group {group} (room {room}): {e}"));
            }
        }
        match (failures.is_empty(), transient) {
            (true, _) => Ok(()),
            (false, true) => Err(ForumError::Unavailable(failures.join("; "))),
            (false, false) => Err(ForumError::Refused(failures.join("; "))),
        }
    }
}

/// A person's own Matrix user id from the people list, when given.
fn person_matrix_id(person: &crate::model::Person) -> Option<&str> {
    person.matrix_id.as_deref()
}

/// The room a group names (`room = ...` in its `[[groups]]` entry).
fn room_of(group: &Group) -> Result<&str, ForumError> {
    match &group.source {
        GroupSource::Matrix { room } => Ok(room),
        other => Err(ForumError::Refused(format!(
            "group {} is on a {} forum, not Matrix",
            group.id,
            other.kind()
        ))),
    }
}

impl Forum for MatrixForum {
    fn fetch_since(
        &self,
        group: &Group,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<FetchBatch, ForumError> {
        self.fetch_room(group, room_of(group)?, cursor, limit)
    }

    fn post_reply(
        &self,
        group: &Group,
        thread_remote_id: &str,
        author: &Author,
        body: &str,
        idempotency_key: &str,
    ) -> Result<Posted, ForumError> {
        self.post_in_room(
            room_of(group)?,
            Some(thread_remote_id.trim()),
            author,
            "",
            body,
            idempotency_key,
        )
    }

    fn create_thread(
        &self,
        group: &Group,
        author: &Author,
        title: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<Posted, ForumError> {
        self.post_in_room(room_of(group)?, None, author, title, body, idempotency_key)
    }

    fn check_online(&self, groups: &[&Group]) -> Result<(), ForumError> {
        let mut rooms = Vec::with_capacity(groups.len());
        for group in groups {
            rooms.push((group.id.as_str(), room_of(group)?));
        }
        self.check_rooms(&rooms)
    }
}
