//! Where reports, bounces and complaints come from besides the command line: [`dir`], a watched
//! directory, and [`imap`], a mailbox. (`POST /api/v1/reports` lives with the HTTP routes.)

pub mod dir;
pub mod imap;
