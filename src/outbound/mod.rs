//! Outbound mail: building digest messages and handing them to a transport.
//!
//! **Boundary:** only `outbound` knows SMTP.
