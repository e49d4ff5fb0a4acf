//! Shared support for the behaviour and transport tests: a real HTTP server on 127.0.0.1.
