//! Spans that live exactly as long as a stream of items: an iterator, or (feature `stream`) a
//! `futures_core::Stream`.
//!
//! The span opens when the stream is created (or earlier, with [`StreamSpan`]) and closes when
//! the stream ends, or when it is dropped before the end (marked `cancelled`, with the number
//! of `items` it had yielded). Each `next()` (or `poll_next`) makes the span current, so
//! findings, events, usage and nested spans recorded while an item is produced land on it.
//!
//! At the edges:
//!
//! - **An error item** (one the fold calls an error) ends the span there, marked `error` with
//!   its text. A caller that reads on still has the span as the parent of what producing later
//!   items records; those items are counted as `items_after_error`, and the span is handed on
//!   when the stream ends or is dropped.
//! - **A panic inside `next`** is recorded on the span as an error (`panicked in next(): …`,
//!   with the panic's text) as it passes through, so a caller that catches it and reads on, or
//!   drops the stream later, still sees it.
//! - **A panicking fold** (your [`FromFn`](crate::fold::FromFn) closure, say) is caught: the
//!   caller still gets the item, and the span counts `fold_failures` (with the first one's
//!   text in `fold_failure`).
//! - **A stream that outlives its trace** (returned out of it, or continuing a remote context)
//!   keeps its trace id; what it records after the trace was delivered is delivered as one
//!   continuation of that trace when the stream closes.
//! - **A stream never dropped** (`mem::forget`, a reference cycle), or still open at shutdown,
//!   is delivered at shutdown as it stands: its span marked `unfinished` with `closed_by:
//!   "shutdown"` and its `items` (without output: the fold lives with the stream), in the
//!   trace it opened if it had none around it.
//!
//! The arrival of the first item is recorded as a `first_token` event at that instant and as
//! `ttft_ms` (milliseconds since the span opened) in the span's metadata; the OpenTelemetry
//! exporter writes it as `modelmetry.ttft_ms` (the GenAI conventions name time to first token
//! only as a server metric, so no `gen_ai.*` span attribute exists for it). A stream is lazy:
//! `ttft_ms` runs to the first item the caller *receives*, so a caller that waits before its
//! first poll has its wait counted too (open the span with [`StreamSpan`] just before the
//! request, and poll right after, to measure the provider alone).
//!
//! ```
//! # let rec = modelmetry::testing::Recorder::install();
//! use modelmetry::{Kind, Traced, fold};
//! let chunks = vec!["Hel", "lo", "!"].into_iter();
//! let stream = Traced::new(chunks, "llm.stream", Kind::Llm, fold::Text::default());
//! let answer: String = stream.collect();
//! assert_eq!(answer, "Hello!");
//! # assert!(rec.take_trees().contains("event first_token"));
//! ```

use std::any::Any;
use std::fmt::Display;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use super::owned::Owned;
use crate::fold::{Fold, FoldOutput};
use crate::metadata_keys as keys;
use crate::record::{Kind, Name, Severity};
use crate::time::Tick;

pin_project_lite::pin_project! {
    /// A stream (iterator or async stream) whose span lives exactly as long as it does.
    #[must_use = "streams do nothing unless consumed"]
    pub struct Traced<S, F>
    where
        F: FoldOutput,
    {
        #[pin]
        inner: S,
        span: Tracking<F>,
    }
}

/// A span opened before its stream exists: open it when the work starts, run the code that
/// builds the stream inside it, then hand it the stream.
///
/// ```
/// # let _rec = modelmetry::testing::Recorder::install();
/// use modelmetry::{Kind, StreamSpan, fold};
/// let mut span = StreamSpan::open("llm.stream", Kind::Llm);
/// let chunks = span.in_scope(|| {
///     modelmetry::current_span().set_model("gpt-4o");
///     vec!["a", "b"].into_iter()
/// });
/// let stream = span.wrap(chunks, fold::Text::default());
/// assert_eq!(stream.count(), 2);
/// ```
///
/// A span dropped without its stream is closed then, and marked `cancelled` (with `items` 0):
/// the future that was building the stream was dropped, say. When building it failed, say so
/// with [`fail`](StreamSpan::fail) instead.
#[must_use = "the span closes when this is dropped, unless it is given its stream"]
pub struct StreamSpan {
    owned: Owned,
}

impl StreamSpan {
    /// Open a span under the current span (or in a trace of its own).
    pub fn open(name: impl Into<Name>, kind: Kind) -> StreamSpan {
        StreamSpan {
            owned: Owned::watched_span(name.into(), kind),
        }
    }

    /// Run `f` with this span current.
    pub fn in_scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let _entered = self.owned.enter();
        f()
    }

    /// Run a future with this span current during each of its polls: the request that
    /// returns the stream, in async code.
    ///
    /// ```
    /// use modelmetry::{Kind, StreamSpan, fold};
    /// async fn connect() -> Vec<&'static str> { vec!["a", "b"] }
    /// async fn answer() -> impl Iterator<Item = &'static str> {
    ///     let mut span = StreamSpan::open("llm.stream", Kind::Llm);
    ///     let chunks = span.in_future(connect()).await;
    ///     span.wrap(chunks.into_iter(), fold::Text::default())
    /// }
    /// # drop(answer());
    /// ```
    pub fn in_future<Fut: Future>(&mut self, fut: Fut) -> InStreamSpan<'_, Fut> {
        InStreamSpan {
            span: self,
            inner: fut,
        }
    }

    /// The stream could not be made (the request failed): close the span now, as an error
    /// with `error`'s text.
    pub fn fail(mut self, error: &dyn Display) {
        self.owned.with_record(|rec| {
            rec.severity = Some(Severity::Error);
            rec.data_mut().message = Some(error.to_string());
        });
    }

    /// Hand the span its stream: it now closes when the stream ends or is dropped.
    pub fn wrap<S, F: FoldOutput>(mut self, inner: S, fold: F) -> Traced<S, F> {
        let mut owned = self.owned.take();
        // The span's own start: time to first token counts the set-up (the request) too.
        let opened = owned.with_record(|rec| rec.start);
        Traced {
            inner,
            span: Tracking {
                owned,
                opened,
                fold,
                items: 0,
                first_seen: false,
                // Tracing off: items pass through, nothing is counted or kept.
                ended: opened.is_none(),
                errored: false,
                after_error: 0,
                fold_failures: 0,
            },
        }
    }
}

impl Drop for StreamSpan {
    fn drop(&mut self) {
        // Never given its stream. A panic is marked by `Owned`, a failure by `fail`; anything
        // else is a caller that gave up before the stream existed.
        if std::thread::panicking() {
            return;
        }
        self.owned.with_record(|rec| {
            if rec.severity != Some(Severity::Error) {
                let data = rec.data_mut();
                data.metadata.insert(keys::CANCELLED.into(), true.into());
                data.metadata.insert(keys::ITEMS.into(), 0.into());
            }
        });
    }
}

impl std::fmt::Debug for StreamSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSpan")
            .field("recording", &self.owned.is_open())
            .finish()
    }
}

pin_project_lite::pin_project! {
    /// A future run with a [`StreamSpan`] current during each of its polls: see
    /// [`StreamSpan::in_future`].
    #[must_use = "futures do nothing unless polled"]
    pub struct InStreamSpan<'a, Fut> {
        span: &'a mut StreamSpan,
        #[pin]
        inner: Fut,
    }
}

impl<Fut: Future> Future for InStreamSpan<'_, Fut> {
    type Output = Fut::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Fut::Output> {
        let this = self.project();
        let _entered = this.span.owned.enter();
        this.inner.poll(cx)
    }
}

impl<Fut> std::fmt::Debug for InStreamSpan<'_, Fut> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InStreamSpan")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

impl<S, F: FoldOutput> Traced<S, F> {
    /// Wrap `inner` in a span that opens now and closes with the stream. `fold` turns the
    /// items into the span's output: see [`fold`](crate::fold).
    pub fn new(inner: S, name: impl Into<Name>, kind: Kind, fold: F) -> Self {
        StreamSpan::open(name, kind).wrap(inner, fold)
    }

    /// The number of items yielded so far (counted while tracing is on).
    pub fn items(&self) -> u64 {
        self.span.items
    }
}

impl<S, F: FoldOutput> std::fmt::Debug for Traced<S, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traced")
            .field("items", &self.span.items)
            .field("recording", &!self.span.ended)
            .finish()
    }
}

struct Tracking<F: FoldOutput> {
    owned: Owned,
    /// When the span opened; `None` when tracing is off.
    opened: Option<Tick>,
    fold: F,
    /// Items up to the end, or up to and including an error item.
    items: u64,
    first_seen: bool,
    /// The span has been handed on (or tracing is off): items pass through untraced.
    ended: bool,
    /// An error item ended the span (its end is stamped); the record stays here, lent on each
    /// later call so that the work done then is still parented to it, until the stream ends
    /// or is dropped.
    errored: bool,
    /// Items yielded after the error item.
    after_error: u64,
    /// Panics of the fold's own code (`item`, `output`), caught and counted.
    fold_failures: u64,
}

impl<F: FoldOutput> Tracking<F> {
    /// Produce one item (or learn that none is ready yet) with the span current, and look at it
    /// there. Closes the span at the end of the stream; ends it at an error item (it is handed
    /// on when the stream ends or is dropped).
    fn step<T>(&mut self, produce: impl FnOnce() -> Poll<Option<T>>) -> Poll<Option<T>>
    where
        F: Fold<T>,
    {
        if self.ended {
            return produce();
        }
        let Tracking {
            owned,
            opened,
            fold,
            items,
            first_seen,
            errored,
            after_error,
            fold_failures,
            ..
        } = self;
        let mut entered = owned.enter();
        let polled = match catch_unwind(AssertUnwindSafe(produce)) {
            Ok(polled) => polled,
            Err(panic) => {
                // The stream's own code panicked. The caller may catch it and keep the
                // stream (read on, or drop it later), so the span says so now, with the text.
                let text = format!(
                    "panicked in next(): {}",
                    crate::switch::panic_text(panic.as_ref())
                );
                if let Some(slot) = super::stack::current_slot() {
                    super::stack::with_span(slot, |rec| {
                        rec.severity = Some(Severity::Error);
                        let data = rec.data_mut();
                        data.panicked = true;
                        data.message = Some(text);
                    });
                }
                entered.set_items(*items);
                drop(entered);
                resume_unwind(panic);
            }
        };
        let mut close = false;
        let mut ended_now = false;
        match &polled {
            Poll::Pending => {}
            Poll::Ready(None) => close = true,
            Poll::Ready(Some(_)) if *errored => *after_error += 1,
            Poll::Ready(Some(item)) => {
                *items += 1;
                if !*first_seen {
                    *first_seen = true;
                    crate::Event::new(keys::FIRST_TOKEN).record();
                    let ttft_ms = opened.map_or(0.0, |t| {
                        Tick::now().saturating_duration_since(t).as_secs_f64() * 1000.0
                    });
                    crate::current_span()
                        .set_metadata(keys::TTFT_MS, &((ttft_ms * 1000.0).round() / 1000.0));
                }
                // The fold is the caller's code: a panic there must not take the item from
                // the caller (it has left the inner stream already) nor unwind through us.
                // The fold is user code: tracing off while it runs, a panic caught.
                match crate::switch::user_code(|| fold.item(item)) {
                    Ok(Ok(())) => {}
                    Ok(Err(text)) => {
                        crate::current_span().record_error(&text);
                        ended_now = true;
                    }
                    Err(panic) => {
                        *fold_failures += 1;
                        fold_failed(*fold_failures, panic.as_ref());
                    }
                }
            }
        }
        entered.set_items(*items);
        drop(entered);
        if ended_now {
            self.errored = true;
            let now = Tick::now();
            self.owned.with_record(|rec| rec.end = Some(now));
        }
        if close {
            self.close(false);
        }
        polled
    }

    /// Hand the span on with the output so far. `cancelled`: dropped before the end.
    fn close(&mut self, cancelled: bool) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let (items, after_error) = (self.items, self.after_error);
        // An error ended the span already: a drop after it is not a cancellation.
        let cancelled = cancelled && !self.errored;
        let fold = &mut self.fold;
        let folded = crate::capture::content_enabled().then(|| {
            // With the span current, so that a fold can record what it assembled (a streamed
            // message) on it; not while unwinding, when the span is being closed as an error.
            let _entered = (!std::thread::panicking()).then(|| self.owned.enter());
            crate::switch::user_code(|| (fold.output(), fold.original_bytes()))
        });
        let (output, original) = match folded {
            None => (None, None),
            Some(Ok(folded)) => folded,
            Some(Err(panic)) => {
                self.fold_failures += 1;
                let failures = self.fold_failures;
                self.owned.with_record(|rec| {
                    note_fold_failure(&mut rec.data_mut().metadata, failures, panic.as_ref());
                });
                (None, None)
            }
        };
        self.owned.with_record(|rec| {
            let data = rec.data_mut();
            data.metadata.insert(keys::ITEMS.into(), items.into());
            if after_error > 0 {
                data.metadata
                    .insert(keys::ITEMS_AFTER_ERROR.into(), after_error.into());
            }
            if cancelled {
                data.metadata.insert(keys::CANCELLED.into(), true.into());
            }
            if let Some(value) = output {
                let captured = crate::capture::metadata(&value);
                // One cut, one mark: the fold's (it saw every byte) when it cut, else the
                // capture's.
                data.output = Some(match original {
                    Some(original) => {
                        crate::capture::note_truncated(
                            &mut data.metadata,
                            "Metadata.output",
                            original,
                        );
                        captured.value
                    }
                    None => captured.noted(&mut data.metadata, "Metadata.output"),
                });
            }
        });
        self.owned.close();
    }
}

/// Count a panic of the fold on the current span, keeping the first one's text.
fn fold_failed(failures: u64, panic: &(dyn Any + Send)) {
    crate::current_span().set_metadata(keys::FOLD_FAILURES, &failures);
    if failures == 1 {
        crate::current_span().set_metadata(
            "fold_failure",
            &format!("panicked: {}", crate::switch::panic_text(panic)),
        );
    }
}

fn note_fold_failure(
    metadata: &mut serde_json::Map<String, serde_json::Value>,
    failures: u64,
    panic: &(dyn Any + Send),
) {
    metadata.insert(keys::FOLD_FAILURES.into(), failures.into());
    metadata
        .entry("fold_failure")
        .or_insert_with(|| format!("panicked: {}", crate::switch::panic_text(panic)).into());
}

impl<F: FoldOutput> Drop for Tracking<F> {
    fn drop(&mut self) {
        // Dropped before the end (a caller that stopped reading): closed now, and said so.
        // During a panic the span is closed as an error instead, by `Owned`.
        let cancelled = !std::thread::panicking();
        self.close(cancelled);
    }
}

impl<S: Iterator, F: Fold<S::Item>> Iterator for Traced<S, F> {
    type Item = S::Item;

    fn next(&mut self) -> Option<S::Item> {
        let inner = &mut self.inner;
        match self.span.step(|| Poll::Ready(inner.next())) {
            Poll::Ready(item) => item,
            Poll::Pending => None, // never: an iterator is always ready
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

#[cfg(feature = "stream")]
impl<S: futures_core::Stream, F: Fold<S::Item>> futures_core::Stream for Traced<S, F> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let inner = this.inner;
        this.span.step(|| inner.poll_next(cx))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
