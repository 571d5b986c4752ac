//! Captures what is logged while a closure runs, for the tests that check log lines
//! (no secret or data in them, W025 warnings).

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// One logged event: its level, target and fields as `name=value ` pairs.
#[derive(Debug, Clone)]
pub struct Logged {
    pub level: tracing::Level,
    pub target: String,
    pub fields: String,
}

#[derive(Default, Clone)]
struct Capture(Arc<Mutex<Vec<Logged>>>);

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
    let events = capture
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    events
}
