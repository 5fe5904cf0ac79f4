//! `highlight` / `unhighlight` on an item's reply address: an ambassador of the thread's group
//! nominates the item's post as training material (or withdraws the nomination); anyone else
//! is refused with an answer and nothing changes.

use super::decide::Ctx;
use super::outcome::{ignored, Outcome};
use super::{InboundError, Pipeline};
use crate::model::{ReplyToken, Thread};
use crate::outbound::message::one_line;
use crate::store::Store;

impl Pipeline<'_> {
    /// Carries out `highlight` (`on`) or `unhighlight` by `person` (the token's owner, who sent
    /// it) on the item of `token` in `thread`. The item's post is the one the token was made
    /// for (a nudge item), else the thread's opening post.
    pub(super) fn highlight(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
        token: &ReplyToken,
        thread: &Thread,
        person: &str,
        on: bool,
    ) -> Result<Outcome, InboundError> {
        let mut actx = self.context(c);
        actx.thread_title = Some(one_line(&thread.title));
        actx.group = Some(one_line(&thread.group_id));
        actx.group_name = Some(one_line(&self.group(&thread.group_id).name));
        if !self
            .config
            .ambassadors
            .is_ambassador(&thread.group_id, person)
        {
            return self.answer(store, c, c.sender, "highlight-refused", actx);
        }
        let post = match store.token_post(token)? {
            Some(p) => Some(p),
            None => store.thread_opener(thread.id)?,
        };
        let Some(post) = post else {
            return Ok(ignored("highlight: the thread has no stored post"));
        };
        let key = if on {
            store.nominate_highlight(post, &thread.group_id, person, c.now)?;
            "highlight-done"
        } else {
            store.withdraw_highlight(post, person, c.now)?;
            "unhighlight-done"
        };
        tracing::info!(post, group = %thread.group_id, %person, on, "highlight nomination");
        self.answer(store, c, c.sender, key, actx)
    }
}
