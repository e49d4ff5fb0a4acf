//! Public, but **outside semver**: what may change in any release, minor and patch included.
//!
//! As ureq's `unversioned`, this module holds types that tests and tools may want but that the
//! crate cannot promise to keep: they mirror an external specification (the Modelmetry ingest
//! API) field for field, and follow it when it changes. Pin an exact version of `modelmetry`
//! (`=0.1.0`) if you depend on them.

#[cfg(feature = "html")]
pub mod view;
pub mod wire;
