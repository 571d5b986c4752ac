//! Timing: a run of concurrent tasks, each recording the latency of every
//! operation, and the figures of the table (ops/s, p50, p99) computed from them.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::{BenchError, Result};

/// What one measured run (or several, merged) produced.
#[derive(Debug, Default, Clone)]
pub struct Sample {
    /// Wall time from the first task's start to the last task's end, summed over
    /// merged runs.
    pub wall: Duration,
    /// The latency of every operation, in nanoseconds.
    pub latencies: Vec<u64>,
}

impl Sample {
    /// Adds `other`'s operations and wall time to this sample.
    pub fn merge(&mut self, other: Sample) {
        self.wall += other.wall;
        self.latencies.extend(other.latencies);
    }

    /// The figures, or `None` when nothing ran.
    pub fn stats(&self) -> Option<Stats> {
        if self.latencies.is_empty() || self.wall.is_zero() {
            return None;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let at = |q: f64| {
            // The nearest-rank percentile: the smallest latency with at least q of
            // the operations at or below it.
            let rank = (q * sorted.len() as f64).ceil() as usize;
            Duration::from_nanos(sorted[rank.clamp(1, sorted.len()) - 1])
        };
        Some(Stats {
            ops: sorted.len() as u64,
            ops_per_sec: sorted.len() as f64 / self.wall.as_secs_f64(),
            p50: at(0.50),
            p99: at(0.99),
        })
    }
}

/// The figures of one table cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// How many operations were timed.
    pub ops: u64,
    /// Operations per second of wall time, all tasks together.
    pub ops_per_sec: f64,
    /// Median latency of one operation.
    pub p50: Duration,
    /// 99th percentile latency of one operation.
    pub p99: Duration,
}

impl Stats {
    /// True when every figure is a finite, positive number.
    pub fn is_complete(&self) -> bool {
        self.ops > 0 && self.ops_per_sec.is_finite() && self.ops_per_sec > 0.0
    }
}

/// Latencies of one task, appended to as it goes.
#[derive(Debug, Default)]
pub struct Latencies(Vec<u64>);

impl Latencies {
    /// Awaits `op`, recording how long it took.
    pub async fn time<T>(&mut self, op: impl Future<Output = Result<T>>) -> Result<T> {
        let started = Instant::now();
        let out = op.await?;
        self.0
            .push(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
        Ok(out)
    }
}

/// Runs `task(0)` .. `task(tasks - 1)` at once on the runtime, each to its end, and
/// collects their latencies; the wall time spans all of them.
pub async fn concurrently<F, Fut>(tasks: usize, task: F) -> Result<Sample>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<Latencies>> + Send + 'static,
{
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks).map(|i| tokio::spawn(task(i))).collect();
    let mut latencies = Vec::new();
    let mut failure = None;
    for handle in handles {
        match handle.await {
            Ok(Ok(Latencies(mine))) => latencies.extend(mine),
            Ok(Err(err)) => failure = failure.or(Some(err)),
            Err(err) => {
                failure = failure.or(Some(BenchError::Setup(format!("a task died: {err}"))))
            }
        }
    }
    let wall = started.elapsed();
    match failure {
        Some(err) => Err(err),
        None => Ok(Sample { wall, latencies }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let sample = Sample {
            wall: Duration::from_secs(2),
            latencies: (1..=100).collect(),
        };
        let stats = sample.stats().expect("stats");
        assert_eq!(stats.ops, 100);
        assert!((stats.ops_per_sec - 50.0).abs() < 1e-9);
        assert_eq!(stats.p50, Duration::from_nanos(50));
        assert_eq!(stats.p99, Duration::from_nanos(99));
        assert_eq!(Sample::default().stats(), None);
    }
}
