//! The `tracing` bridge (feature `tracing`): spans written with the `tracing` crate (rig's,
//! genai's, every `#[instrument]`) become spans of Modelmetry traces.
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! // Next to your other layers: `.with(fmt::layer())`, `.with(tracing_opentelemetry::layer())`.
//! let subscriber = tracing_subscriber::registry().with(modelmetry::tracing::layer());
//! tracing::subscriber::with_default(subscriber, || {
//!     let recorder = modelmetry::testing::Recorder::install(); // an application: `init()`
//!     {
//!         let span = tracing::info_span!("chat", gen_ai.operation.name = "embeddings",
//!             gen_ai.request.model = "text-embedding-3-small");
//!         let _entered = span.enter();
//!         let _inner = modelmetry::start_span("chunk", modelmetry::Kind::Tool);
//!     }
//!     assert_eq!(
//!         recorder.take_trees(),
//!         "trace chat\n└── embeddings chat  text-embedding-3-small\n    └── tool chunk\n"
//!     );
//! });
//! ```
//!
//! **Which spans.** By default a span is bridged when it has a `gen_ai.*` field (it then
//! opens a trace of its own when none is open), or when it opens inside a Modelmetry trace
//! (under a `#[trace]`, a `#[span]`, or a bridged span). [`ModelmetryLayer`]'s builder
//! methods narrow that by level and target.
//!
//! **Where.** A span's parent is the innermost span on its thread, of either kind: a
//! `#[span]` opened inside a `tracing` span nests under it, and a `tracing` span opened
//! inside a `#[span]` nests under that. A span given an explicit parent
//! (`info_span!(parent: &p, ..)`) nests under `p` (or its nearest bridged ancestor). An
//! entered span is the current span for Modelmetry too, so `llm::set_usage`, `finding!` and
//! `event!` land on it; a future `.instrument(span)`ed is entered on each poll, whichever
//! thread polls it, as in `tracing`'s registry.
//!
//! **What.** Fields named by the OpenTelemetry GenAI conventions become the span's kind,
//! model, provider, options, usage, messages, input and output; `otel.name` its name;
//! `otel.status_code = "ERROR"` or `error.type` its severity; other fields its metadata.
//! Fields recorded later with `Span::record` count. Content (messages, tool arguments and
//! results, prompts) goes through the content switch and the redaction hook like any
//! captured value. `tracing` events emitted while a Modelmetry span is current become
//! events on it (name from the message, fields as metadata), from `INFO` up by default.
//!
//! **At shutdown.** A bridged span that opened a trace and is still open when the client shuts
//! down (leaked, or its task still running) is exported as it stands, as a stream is: marked
//! `unfinished` with `closed_by: "shutdown"`, its trace with every span under it that closed.
//!
//! **One bridge per subscriber.** A second Modelmetry layer in the same subscriber (a
//! library's beside the application's, stacked, composed with `and_then` or behind a
//! per-layer filter) stands aside: the outermost one bridges, and each span and event is
//! recorded once. It is reported once on stderr (or to the diagnostics hook).
//!
//! **Cost.** Nothing here installs a subscriber or an OpenTelemetry provider. Without
//! [`init`](crate::init) (and no bridged span open) each callback costs one atomic load.

mod fields;
mod messages;
mod semconv;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError, Weak};

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Dispatch, Event, LevelFilter, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use self::fields::{FieldValue, Fields};
use crate::capture;
use crate::context::owned;
use crate::context::stack::{self, SharedTrace};
use crate::diag;
use crate::dispatch::{self, DefaultGuard};
use crate::id::SpanId;
use crate::metadata_keys as keys;
use crate::record::{FinishedTrace, Kind, Name, SpanRecord};
use crate::signal::{At, Event as MmEvent};
use crate::switch;
use crate::time::Tick;

/// The bridge's layer: add it to a `tracing_subscriber` registry next to your other layers.
/// Equivalent to [`ModelmetryLayer::new`].
pub fn layer() -> ModelmetryLayer {
    ModelmetryLayer::new()
}

/// A `tracing_subscriber::Layer` that records `tracing` spans and events into Modelmetry
/// traces (see the [module docs](self)).
///
/// ```
/// use tracing_core::LevelFilter;
///
/// let layer = modelmetry::tracing::layer()
///     .span_level(LevelFilter::DEBUG) // spans above DEBUG (TRACE) are not bridged
///     .event_level(LevelFilter::WARN) // only WARN and ERROR events become events
///     .skip_target("hyper")           // nor anything from hyper or its modules
///     .gen_ai_only(true);             // only spans with `gen_ai.*` fields
/// # let _ = layer;
/// ```
#[derive(Debug)]
pub struct ModelmetryLayer {
    span_level: LevelFilter,
    event_level: LevelFilter,
    targets: Vec<Cow<'static, str>>,
    skip_targets: Vec<Cow<'static, str>>,
    gen_ai_only: bool,
    /// Another Modelmetry layer of the same dispatch bridges (the one its downcast finds
    /// first, the outermost): this one does nothing. Set when the dispatch is made.
    aside: AtomicBool,
}

impl Clone for ModelmetryLayer {
    /// The same settings; whether the clone stands aside is decided by the dispatch it joins.
    fn clone(&self) -> Self {
        ModelmetryLayer {
            span_level: self.span_level,
            event_level: self.event_level,
            targets: self.targets.clone(),
            skip_targets: self.skip_targets.clone(),
            gen_ai_only: self.gen_ai_only,
            aside: AtomicBool::new(false),
        }
    }
}

impl Default for ModelmetryLayer {
    fn default() -> Self {
        ModelmetryLayer::new()
    }
}

impl ModelmetryLayer {
    /// Spans of every level; events from `INFO` up; every target; spans with `gen_ai.*`
    /// fields, and every span inside a Modelmetry trace.
    pub fn new() -> Self {
        ModelmetryLayer {
            span_level: LevelFilter::TRACE,
            event_level: LevelFilter::INFO,
            targets: Vec::new(),
            skip_targets: Vec::new(),
            gen_ai_only: false,
            aside: AtomicBool::new(false),
        }
    }

    /// Bridge only spans at `level` or more severe (default: all).
    pub fn span_level(mut self, level: LevelFilter) -> Self {
        self.span_level = level;
        self
    }

    /// Record only events at `level` or more severe (default: `INFO`; `LevelFilter::OFF`
    /// records none).
    pub fn event_level(mut self, level: LevelFilter) -> Self {
        self.event_level = level;
        self
    }

    /// Bridge only spans and events whose target is `target` or one of its modules
    /// (`"rig"` takes `rig::completions`). Called several times, any of them.
    pub fn target(mut self, target: impl Into<Cow<'static, str>>) -> Self {
        self.targets.push(target.into());
        self
    }

    /// Never bridge spans and events whose target is `target` or one of its modules.
    pub fn skip_target(mut self, target: impl Into<Cow<'static, str>>) -> Self {
        self.skip_targets.push(target.into());
        self
    }

    /// With `true`, bridge only spans with `gen_ai.*` fields, inside a Modelmetry trace too
    /// (default: `false`, every span inside a trace).
    pub fn gen_ai_only(mut self, yes: bool) -> Self {
        self.gen_ai_only = yes;
        self
    }

    /// This layer leaves the bridging to another Modelmetry layer of its dispatch.
    #[inline]
    fn aside(&self) -> bool {
        self.aside.load(Relaxed)
    }

    fn target_allowed(&self, target: &str) -> bool {
        let matches = |p: &Cow<'static, str>| {
            target
                .strip_prefix(p.as_ref())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        };
        (self.targets.is_empty() || self.targets.iter().any(matches))
            && !self.skip_targets.iter().any(matches)
    }

    fn span_allowed(&self, meta: &Metadata<'_>) -> bool {
        self.span_level >= *meta.level() && self.target_allowed(meta.target())
    }

    fn event_allowed(&self, meta: &Metadata<'_>) -> bool {
        self.event_level >= *meta.level() && self.target_allowed(meta.target())
    }
}

// ---- the bridged span's state ---------------------------------------------------------------

/// Bridged spans not yet closed, in the whole process. While it is zero a callback about an
/// existing span has nothing to look up: one atomic load.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// What the bridge keeps in a bridged span's extensions.
struct Bridged {
    state: Mutex<State>,
}

struct State {
    shared: Arc<SharedTrace>,
    id: SpanId,
    parent: SpanId,
    /// The span's record; `None` while lent to a thread's stack (the span is entered there),
    /// or once handed to its trace.
    record: Option<SpanRecord>,
    /// The span opened a trace of its own: closing it finishes the trace.
    owns_trace: bool,
    fields: Fields,
    static_name: &'static str,
    /// Whether content (messages, tool arguments and results) is recorded: decided when the
    /// span opens, as for a `#[span]`, so that an export at shutdown (after the client's
    /// dispatch is gone) decides it alike.
    content: bool,
    /// `on_close` came while the record was lent: the exit that takes it back closes it.
    closing: bool,
    done: bool,
    /// The span owns its trace: its key among the roots exported at shutdown if still open.
    root_key: Option<u64>,
}

impl Bridged {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One enter of a bridged span on this thread, undone by its exit.
struct Entered {
    span: Id,
    bridged: Arc<Bridged>,
    /// The frame attached to this thread's stack.
    serial: Option<u64>,
    /// The record was lent with the frame (the first enter); a concurrent enter on another
    /// thread attaches a frame under the span instead.
    carried: bool,
    /// A test's recorder, carried onto this thread while the span is entered.
    _dispatch: Option<DefaultGuard>,
}

thread_local! {
    static ENTERED: RefCell<Vec<Entered>> = const { RefCell::new(Vec::new()) };
}

/// True if the span `id` is entered on this thread (and bridged).
fn entered_here(id: &Id) -> bool {
    ENTERED
        .try_with(|e| {
            e.try_borrow()
                .is_ok_and(|e| e.iter().any(|x| x.span == *id))
        })
        .unwrap_or(false)
}

fn bridged_of<S>(ctx: &Context<'_, S>, id: &Id) -> Option<Arc<Bridged>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    ctx.span(id)?.extensions().get::<Arc<Bridged>>().cloned()
}

/// The nearest bridged span from `id` up (itself included): its trace and id.
fn bridged_ancestor<S>(ctx: &Context<'_, S>, id: &Id) -> Option<(Arc<SharedTrace>, SpanId)>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let span = ctx.span(id)?;
    for s in span.scope() {
        if let Some(b) = s.extensions().get::<Arc<Bridged>>() {
            let st = b.lock();
            return Some((st.shared.clone(), st.id));
        }
    }
    None
}

/// Close a span whose record is back: fill it from its fields, hand it to its trace, and
/// finish the trace it owns.
fn finish(st: &mut State) {
    let _dispatch = dispatch::carry(st.shared.dispatch.as_ref());
    let now = Tick::now();
    if close_record(st, now, false) && st.owns_trace {
        st.shared.finish(now);
    }
}

/// Fill the span's record from its fields (marked closed by shutdown if `at_shutdown`) and
/// hand it to its trace. False if the record is not here (lent, or already handed over).
fn close_record(st: &mut State, now: Tick, at_shutdown: bool) -> bool {
    let Some(mut rec) = st.record.take() else {
        return false;
    };
    st.done = true;
    if let Some(key) = st.root_key.take() {
        open_roots().remove(&key);
    }
    let for_trace = fields::apply(&st.fields, &mut rec, st.static_name, st.content);
    if at_shutdown {
        let metadata = &mut rec.data_mut().metadata;
        metadata.insert(keys::UNFINISHED.into(), true.into());
        metadata.insert(keys::CLOSED_BY.into(), "shutdown".into());
    }
    rec.end.get_or_insert(now);
    if let Some(session) = for_trace.session {
        st.shared.with_info(|info| {
            info.session_id.get_or_insert(session);
        });
    }
    if st.owns_trace {
        let name = rec.name.clone();
        st.shared.with_info(|info| info.name = name);
    }
    stack::submit_detached(&st.shared, rec, false);
    true
}

// ---- spans still open at shutdown ------------------------------------------------------------

/// Bridged spans that opened a trace of their own and are still open, by key: the client's
/// shutdown exports them as they stand (as it does a stream still open), so that what their
/// trace recorded (every span under them that has closed) is delivered, not lost with them.
static OPEN_ROOTS: Mutex<BTreeMap<u64, Weak<Bridged>>> = Mutex::new(BTreeMap::new());
static NEXT_ROOT: AtomicU64 = AtomicU64::new(0);

fn open_roots() -> MutexGuard<'static, BTreeMap<u64, Weak<Bridged>>> {
    OPEN_ROOTS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keep `bridged` (a span that owns its trace) among the roots exported at shutdown.
fn watch_root(bridged: &Arc<Bridged>) {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| owned::export_at_shutdown(unfinished_roots));
    let key = NEXT_ROOT.fetch_add(1, Relaxed);
    bridged.lock().root_key = Some(key);
    open_roots().insert(key, Arc::downgrade(bridged));
}

/// The roots still open, exported as they stand (called at shutdown): each span ends now,
/// marked `unfinished` with `closed_by: "shutdown"`, and its trace goes with what it holds. A
/// span entered on a thread at this instant (its record lent) stays registered and closes by
/// itself; so does one recorded by a test's recorder.
fn unfinished_roots() -> Vec<FinishedTrace> {
    let open = std::mem::take(&mut *open_roots());
    let mut out = Vec::new();
    let mut busy = Vec::new();
    for (key, weak) in open {
        let Some(bridged) = weak.upgrade() else {
            continue;
        };
        let mut st = bridged.lock();
        let scoped = st
            .shared
            .dispatch
            .as_ref()
            .is_some_and(dispatch::Dispatch::is_scoped);
        if st.done || st.record.is_none() || scoped {
            if !st.done {
                busy.push((key, weak));
            }
            continue;
        }
        let now = Tick::now();
        st.root_key = None;
        close_record(&mut st, now, true);
        out.extend(st.shared.take_finished(now));
    }
    open_roots().extend(busy);
    out
}

impl<S> Layer<S> for ModelmetryLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        // The dispatch's downcast finds its outermost Modelmetry layer (a `Layered` asks its
        // layer before its inner subscriber; `and_then` and per-layer filters forward it).
        let first = dispatch.downcast_ref::<ModelmetryLayer>();
        if first.is_some_and(|first| !std::ptr::eq(first, self)) {
            self.aside.store(true, Relaxed);
            diag::once(
                "tracing.second_layer",
                format_args!(
                    "a second modelmetry::tracing::layer() in one subscriber; \
                     the outermost one bridges, this one does nothing"
                ),
            );
        }
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // Off on this thread: only a span with an explicit, bridged parent is recorded (its
        // trace knows where it goes: a test's recorder, from another thread).
        let on = dispatch::enabled();
        if !on && (attrs.parent().is_none() || LIVE.load(Relaxed) == 0 || switch::in_user_code()) {
            return;
        }
        if self.aside() {
            return;
        }
        let meta = attrs.metadata();
        if !self.span_allowed(meta) {
            return;
        }
        let gen_ai = fields::has_gen_ai_field(meta.fields());
        if self.gen_ai_only && !gen_ai {
            return;
        }
        // The parent: an explicit one (or its nearest bridged ancestor), unless it is entered
        // on this thread (`parent: Span::current()`, as rig writes it: then spans opened
        // inside it since are deeper); else the innermost span on this thread, ours or an
        // entered bridged one (lent to our stack); else the nearest bridged ancestor of
        // `tracing`'s current span. An explicit root (`parent: None`) takes the innermost
        // span on this thread too: inside a `#[span]`, it is that span's work.
        let explicit = attrs
            .parent()
            .filter(|p| !entered_here(p))
            .and_then(|p| bridged_ancestor(&ctx, p));
        if !on && explicit.is_none() {
            return;
        }
        let parent = explicit.or_else(stack::current_shared).or_else(|| {
            if attrs.is_contextual() {
                ctx.current_span()
                    .id()
                    .and_then(|cur| bridged_ancestor(&ctx, cur))
            } else {
                None
            }
        });
        if parent.is_none() && !gen_ai {
            return;
        }
        let name: Name = Cow::Borrowed(meta.name());
        let (shared, parent_id, owns_trace) = match parent {
            Some((shared, p)) => (shared, p, false),
            None => {
                let shared = SharedTrace::new_root(name.clone());
                let p = shared.root_span;
                (shared, p, true)
            }
        };
        // Content as for a `#[span]` of the same trace: its dispatch's switch, and nothing
        // from a trace head sampling dropped.
        let content = {
            let _dispatch = dispatch::carry(shared.dispatch.as_ref());
            shared.sampled && capture::content_switch()
        };
        let record = stack::new_detached_span(name, Kind::Other, parent_id);
        let mut fields = Fields::with_capacity(meta.fields().len());
        attrs.record(&mut fields.visitor());
        let bridged = Arc::new(Bridged {
            state: Mutex::new(State {
                shared,
                id: record.id,
                parent: parent_id,
                record: Some(record),
                owns_trace,
                fields,
                static_name: meta.name(),
                content,
                closing: false,
                done: false,
                root_key: None,
            }),
        });
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            // Already bridged: a second Modelmetry layer that no dispatch registered (its
            // `insert` would panic in the caller's `span!`).
            if extensions.get_mut::<Arc<Bridged>>().is_none() {
                LIVE.fetch_add(1, Relaxed);
                if owns_trace {
                    watch_root(&bridged);
                }
                extensions.insert(bridged);
            }
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if LIVE.load(Relaxed) == 0 || self.aside() {
            return;
        }
        if let Some(b) = bridged_of(&ctx, id) {
            let mut st = b.lock();
            values.record(&mut st.fields.visitor());
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if LIVE.load(Relaxed) == 0 || self.aside() {
            return;
        }
        let Some(bridged) = bridged_of(&ctx, id) else {
            return;
        };
        let (shared, parent, record) = {
            let mut st = bridged.lock();
            if st.done {
                return;
            }
            match st.record.take() {
                Some(rec) => (st.shared.clone(), st.parent, Some(rec)),
                None => (st.shared.clone(), st.id, None),
            }
        };
        let carried = record.is_some();
        let dispatch = dispatch::carry(shared.dispatch.as_ref());
        let serial = stack::attach(shared, parent, record);
        let entry = Entered {
            span: id.clone(),
            bridged,
            serial,
            carried,
            _dispatch: dispatch,
        };
        let _ = ENTERED.try_with(|e| e.borrow_mut().push(entry));
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        if LIVE.load(Relaxed) == 0 || self.aside() {
            return;
        }
        let entry = ENTERED
            .try_with(|e| {
                let mut e = e.borrow_mut();
                let pos = e.iter().rposition(|x| x.span == *id)?;
                Some(e.remove(pos))
            })
            .ok()
            .flatten();
        let Some(entry) = entry else {
            return;
        };
        // Outside the thread-local's borrow: detaching may hand a fragment to the sink.
        let back = entry.serial.and_then(stack::detach);
        if entry.carried {
            let mut st = entry.bridged.lock();
            if let Some(rec) = back {
                st.record = Some(rec);
            }
            if st.closing {
                finish(&mut st);
            }
        }
        drop(entry);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if LIVE.load(Relaxed) == 0 || self.aside() {
            return;
        }
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(bridged) = span.extensions_mut().remove::<Arc<Bridged>>() else {
            return;
        };
        LIVE.fetch_sub(1, Relaxed);
        let mut st = bridged.lock();
        if st.record.is_some() {
            finish(&mut st);
        } else {
            st.closing = true;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let on = dispatch::enabled();
        if !on && (event.parent().is_none() || LIVE.load(Relaxed) == 0 || switch::in_user_code()) {
            return;
        }
        if self.aside() {
            return;
        }
        let meta = event.metadata();
        if !self.event_allowed(meta) {
            return;
        }
        // An explicit parent: its nearest bridged span, wherever it is entered. Otherwise the
        // current span on this thread, if Modelmetry has one.
        let explicit = event.parent().and_then(|p| bridged_ancestor(&ctx, p));
        if explicit.is_none() && !(on && event.is_contextual() && stack::in_trace()) {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields.visitor());
        let name: Name = match fields.get(semconv::EVENT_MESSAGE) {
            Some(FieldValue::Str(s)) => Cow::Owned(s.clone()),
            _ => Cow::Borrowed(meta.name()),
        };
        let mut ev = MmEvent::new(name)
            .with(semconv::EVENT_LEVEL, meta.level().as_str())
            .with(semconv::EVENT_TARGET, meta.target());
        for (key, value) in fields.iter() {
            if *key != semconv::EVENT_MESSAGE {
                ev = ev.with_value(key, capture::metadata(&value.json()));
            }
        }
        match explicit {
            Some((shared, span)) => {
                let _dispatch = dispatch::carry(shared.dispatch.as_ref());
                let serial = stack::attach(shared, span, None);
                ev.record_at(At::Innermost);
                if let Some(serial) = serial {
                    stack::detach(serial);
                }
            }
            None => {
                ev.record_at(At::Innermost);
            }
        }
    }
}
