//! Rendering: Digest → Email { subject, text, html } with Handlebars. **Invariant:** no I/O
//! after the templates are loaded.
