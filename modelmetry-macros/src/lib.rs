//! Procedural macros of the [`modelmetry`](https://docs.rs/modelmetry) crate.
//!
//! This crate is an implementation detail of `modelmetry`: depend on `modelmetry` and use the
//! macros through it. Their expansions name only `::modelmetry::__private`, which is not a
//! stable API.
