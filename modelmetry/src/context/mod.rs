//! The trace context: the thread-local stack of open spans (the hot path), the guards that
//! open and close spans, the [`Context`] handle that carries a trace across threads, and the
//! wrapper that makes a future's span follow it across polls.

pub(crate) mod future;
pub(crate) mod guard;
pub(crate) mod handle;
pub(crate) mod owned;
pub(crate) mod stack;
pub(crate) mod stream;
pub(crate) mod target;
