//! Moving bytes: the HTTP client and how its answers are read.

pub(crate) mod http;
pub(crate) mod retry;
pub(crate) mod spool;
