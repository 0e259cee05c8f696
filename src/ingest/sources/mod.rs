//! Where reports come from besides the command line: [`dir`], a watched directory. (`POST
//! /api/v1/reports` lives with the HTTP routes.)

pub mod dir;
