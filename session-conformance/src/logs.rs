//! A capture of what is logged, for cases and tests that check log lines (the
//! copied-cookie event of S2, no secret or data in logs, H5; W025 warnings), for
//! closures and for futures.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::instrument::WithSubscriber;

/// One logged event: its level, target and fields as `name=value ` pairs.
#[derive(Debug, Clone)]
pub struct Logged {
    /// The event's level.
    pub level: tracing::Level,
    /// The event's target.
    pub target: String,
    /// Its fields, each as `name=value ` (values in their `Debug` form).
    pub fields: String,
}

#[derive(Default, Clone)]
struct Capture(Arc<Mutex<Vec<Logged>>>);

impl Capture {
    fn events(&self) -> Vec<Logged> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let logged = Logged {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            fields: fields.0,
        };
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(logged);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Every event logged on this thread while `f` runs.
pub fn logged(f: impl FnOnce()) -> Vec<Logged> {
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), f);
    capture.events()
}

/// Runs `future` with a subscriber of its own (set on every poll, so it follows the
/// future across threads) and returns its output with the events it logged.
pub async fn captured<F: Future>(future: F) -> (F::Output, Vec<Logged>) {
    let capture = Capture::default();
    let output = future.with_subscriber(capture.clone()).await;
    (output, capture.events())
}
