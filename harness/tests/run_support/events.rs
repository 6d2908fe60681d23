//! The executor driven in-process, for tests that need the run's structured events (a step's
//! [`Failure`], its exact time) rather than their rendering on the console.

use std::path::PathBuf;
use std::time::Duration;

use athil::broker::{Broker, BrokerConfig};
use athil::cloud::DeviceRegistry;
use athil::run::Wifi;
use athil::run::{EventSink, Executor, Failure, ModuleTarget, Outcome, RunEvent, Stamped, Totals};
use athil::scenario::load_paths;
use athil::sim::SimConfig;

use super::root;

/// The run's events and totals from driving the executor in-process: the real broker on
/// loopback, a fresh virtual module per scenario on its own pty, the virtual lab's Wi-Fi.
pub async fn run_in_process(paths: &[&str], limit: Duration) -> (Totals, Vec<Stamped>) {
    let registry = DeviceRegistry::load_dir(root().join("fixtures/devices")).expect("devices");
    let known = registry.names().map(str::to_owned).collect();
    let files: Vec<PathBuf> = paths.iter().map(|p| root().join(p)).collect();
    let (scenarios, errors) = load_paths(&files, &known);
    assert!(errors.is_empty(), "{errors:?}");
    let (events, mut rx) = EventSink::channel();
    let broker = Broker::start(BrokerConfig::new(registry.clone()), events.clone())
        .await
        .expect("start the broker");
    let target = ModuleTarget::Virtual {
        base: Box::new(SimConfig::default()),
    };
    let wifi = Wifi::virtual_lab();
    let broker = std::sync::Arc::new(broker);
    let executor = Executor {
        target,
        broker: broker.clone(),
        registry: std::sync::Arc::new(registry),
        wifi: Some(wifi),
        broker_host: broker.addr().ip().to_string(),
        events: events.clone(),
    };
    let (_stop, stop_rx) = tokio::sync::watch::channel(None);
    let totals = tokio::time::timeout(limit, executor.run(&scenarios, stop_rx))
        .await
        .unwrap_or_else(|_| panic!("the run did not end within {limit:?}"));
    let _ = broker.shutdown(Duration::from_secs(3)).await;
    let mut seen = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        seen.push(ev);
    }
    (totals, seen)
}

/// Every finished step: (label, line, outcome, time taken), in run order.
pub fn finished_steps(events: &[Stamped]) -> Vec<(String, usize, Outcome, Duration)> {
    let mut started: Vec<(usize, String, usize)> = Vec::new();
    let mut out = Vec::new();
    for ev in events {
        if let RunEvent::StepStarted {
            index, label, line, ..
        } = &ev.event
        {
            started.push((*index, label.clone(), *line));
        }
        if let RunEvent::StepFinished {
            index,
            outcome,
            elapsed,
        } = &ev.event
        {
            let (_, label, line) = started
                .iter()
                .rev()
                .find(|(i, _, _)| i == index)
                .expect("a finished step was started")
                .clone();
            out.push((label, line, outcome.clone(), *elapsed));
        }
    }
    out
}

/// The one failed step of a run: its label, line, failure and time taken.
pub fn the_failed_step(events: &[Stamped]) -> (String, usize, Failure, Duration) {
    let failed: Vec<_> = finished_steps(events)
        .into_iter()
        .filter_map(|(label, line, o, t)| match o {
            Outcome::Failed(f) => Some((label, line, f, t)),
            Outcome::Passed | Outcome::Skipped { .. } => None,
        })
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "expected exactly one failed step: {failed:#?}"
    );
    failed.into_iter().next().expect("one failed step")
}

/// Each scenario's name and outcome, in run order.
pub fn scenario_outcomes(events: &[Stamped]) -> Vec<(String, Outcome)> {
    events
        .iter()
        .filter_map(|ev| {
            if let RunEvent::ScenarioFinished { name, outcome, .. } = &ev.event {
                Some((name.clone(), outcome.clone()))
            } else {
                None
            }
        })
        .collect()
}
