//! The session: carries out a [`Plan`], one task per slot (a `JoinSet`), each with its own
//! broker scope and executor, taking jobs from the plan's queue in order. Every slot's events
//! go into one stream, tagged with the slot and the job, so the reports keep them apart.
//!
//! A broker scope per slot: every slot links into the process's one rumqttd router through a
//! gateway of its own on its own address (a distinct 127.x.y.z for a virtual slot), under a
//! namespace of its own for upstream client ids and topics. Two scenarios using one device
//! fixture at the same time thus never kick each other out or see each other's packets,
//! faults, cloud overrides or observations, and a seed's hard-coded sign still logs in.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::broker::{Broker, BrokerConfig, BrokerError, BrokerHandle, Listen};
use crate::events::{EventSink, JobId, Outcome, RunEvent, SlotId};

use super::executor::{Executor, StopReceiver, Totals};
use super::plan::{Job, Plan};
use super::slot::Slot;

/// How long the brokers get to close their connections at the end.
const BROKER_SHUTDOWN: Duration = Duration::from_secs(3);

/// What one job came to.
#[derive(Debug, Clone)]
pub struct JobResult {
    pub job: JobId,
    pub slot: SlotId,
    pub outcome: Outcome,
    pub elapsed: Duration,
}

/// What a session came to: the totals, and each job's result in the order they ended.
#[derive(Debug, Clone, Default)]
pub struct SessionResult {
    pub totals: Totals,
    pub results: Vec<JobResult>,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("start the broker scope of slot `{slot}`: {source}")]
    Broker {
        slot: String,
        #[source]
        source: BrokerError,
    },
}

/// The jobs not taken yet, in plan order.
struct Queue {
    waiting: VecDeque<Job>,
}

impl Queue {
    /// The first waiting job `slot` may run: bound to it, or free and eligible there.
    fn take(&mut self, slot: SlotId) -> Option<Job> {
        let i = self.waiting.iter().position(|j| match j.slot {
            Some(s) => s == slot,
            None => j.eligible.contains(&slot),
        })?;
        self.waiting.remove(i)
    }
}

/// Runs `plan` to its end (or to `stop`), emitting every event into `events`.
pub async fn run(
    plan: Arc<Plan>,
    events: EventSink,
    stop: StopReceiver,
) -> Result<SessionResult, SessionError> {
    let started = Instant::now();
    let mut executors = Vec::new();
    for slot in &plan.slots {
        let sink = events.for_slot(slot.id);
        let broker = start_scope(&plan, slot, sink.clone())
            .await
            .map_err(|source| SessionError::Broker {
                slot: slot.name.clone(),
                source,
            })?;
        let broker_host = slot
            .broker
            .host
            .clone()
            .unwrap_or_else(|| broker.addr().ip().to_string());
        executors.push(Executor {
            target: slot.target.clone(),
            broker: Arc::new(broker),
            registry: plan.registry.clone(),
            wifi: slot.wifi.clone(),
            broker_host,
            events: sink,
        });
    }
    events.emit(RunEvent::RunStarted {
        scenario_count: plan.jobs.len(),
    });
    let mut results = Vec::new();
    // Jobs no slot can run are reported first, each on its slot (or the first).
    let (skips, runnable): (Vec<Job>, Vec<Job>) =
        plan.jobs.iter().cloned().partition(|j| j.skip.is_some());
    for job in skips {
        let slot = job.slot.unwrap_or(SlotId(0));
        let reason = job.skip.clone().unwrap_or_default();
        results.push(skipped(&executors[slot.0 as usize], &plan, &job, reason));
    }
    let queue = Arc::new(Mutex::new(Queue {
        waiting: runnable.into(),
    }));
    let mut tasks = JoinSet::new();
    for (slot, executor) in plan.slots.iter().zip(&executors) {
        tasks.spawn(run_slot(
            plan.clone(),
            slot.id,
            executor.clone(),
            queue.clone(),
            stop.clone(),
        ));
    }
    while let Some(joined) = tasks.join_next().await {
        // A slot task that panicked loses its own results only; its job is reported below.
        if let Ok(mut r) = joined {
            results.append(&mut r);
        }
    }
    // Whatever no slot took: the run was interrupted (or a slot task died).
    let interrupted = *stop.borrow();
    let left: Vec<Job> = queue
        .lock()
        .map(|mut q| q.waiting.drain(..).collect())
        .unwrap_or_default();
    for job in left {
        let slot = job
            .slot
            .or(job.eligible.first().copied())
            .unwrap_or(SlotId(0));
        let reason = match interrupted {
            Some(i) => format!(
                "not run: the run was interrupted ({}) before it started",
                i.label()
            ),
            None => "not run: its slot stopped before it started".to_owned(),
        };
        results.push(skipped(&executors[slot.0 as usize], &plan, &job, reason));
    }
    let mut totals = Totals::default();
    for r in &results {
        match r.outcome {
            Outcome::Passed => totals.passed += 1,
            Outcome::Failed(_) => totals.failed += 1,
            Outcome::Skipped { .. } => totals.skipped += 1,
        }
    }
    totals.interrupted = interrupted;
    events.emit(RunEvent::RunFinished {
        passed: totals.passed,
        failed: totals.failed,
        skipped: totals.skipped,
        elapsed: started.elapsed(),
        interrupted: totals.interrupted.is_some(),
    });
    let mut closing = JoinSet::new();
    for e in executors {
        let broker = e.broker.clone();
        closing.spawn(async move { broker.shutdown(BROKER_SHUTDOWN).await });
    }
    while closing.join_next().await.is_some() {}
    Ok(SessionResult { totals, results })
}

/// Reports `job` skipped for `reason` on `executor`'s slot.
fn skipped(executor: &Executor, plan: &Plan, job: &Job, reason: String) -> JobResult {
    JobResult {
        job: job.id,
        slot: executor.events.slot(),
        outcome: executor.skip_job(job.id, plan.scenario(job), reason),
        elapsed: Duration::ZERO,
    }
}

/// Starts `slot`'s broker scope.
async fn start_scope(
    plan: &Plan,
    slot: &Slot,
    events: EventSink,
) -> Result<BrokerHandle, BrokerError> {
    let mut config = BrokerConfig::new((*plan.registry).clone());
    config.profile = plan.profile.clone();
    if let Some(addr) = slot.broker.listen {
        config.listen = Listen::Addr(addr);
    }
    Broker::start(config, events).await
}

/// One slot's loop: take the next job it may run, run it, until none is left or the run stops.
async fn run_slot(
    plan: Arc<Plan>,
    slot: SlotId,
    executor: Executor,
    queue: Arc<Mutex<Queue>>,
    mut stop: StopReceiver,
) -> Vec<JobResult> {
    let mut results = Vec::new();
    loop {
        if stop.borrow().is_some() {
            break;
        }
        let Some(job) = queue.lock().ok().and_then(|mut q| q.take(slot)) else {
            break;
        };
        let (outcome, elapsed) = executor
            .run_job(job.id, plan.scenario(&job), &mut stop)
            .await;
        results.push(JobResult {
            job: job.id,
            slot,
            outcome,
            elapsed,
        });
    }
    results
}
