//! Reading a scenario's opaque blocks with the types of the layers that own them: the virtual
//! module's overrides, the cloud profile override and each `broker_fault:`. The scenario layer
//! keeps them as YAML with positions; `athil check` and `athil run` call [`block_problems`] so
//! a typo in one is reported with file:line:column before anything runs.

use crate::broker::{CloudProfile, Fault, ProfileOverride};
use crate::scenario::{Opaque, Scenario, ScenarioError};

use super::target::VirtualOverrides;

/// Every problem in `s`'s opaque blocks, in file order. A `cloud:` block is also checked
/// applied over `profile` (the run's; `athil check` uses the default): a keepalive window with
/// `min` above `max` reads fine key by key and is still impossible.
pub fn block_problems(s: &Scenario, profile: &CloudProfile) -> Vec<ScenarioError> {
    let mut out = Vec::new();
    for (key, block) in s.opaque_blocks() {
        let read = match key {
            "virtual_module" => block.read::<VirtualOverrides>().map(drop),
            "cloud" => block
                .read::<ProfileOverride>()
                .and_then(|o| cloud_problems(block, &profile.with(&o))),
            "broker_fault" => block.read::<Fault>().map(drop),
            "requires" => block.read::<super::requires::Requires>().map(drop),
            other => Err(vec![block.error(
                &[],
                format!("athil cannot read a `{other}` block (a harness bug: please report it)"),
            )]),
        };
        if let Err(errs) = read {
            out.extend(errs);
        }
    }
    out
}

/// The problems of `applied` (a profile with `block` applied), each placed at the first of its
/// keys that the block writes, or at the block when it writes none of them.
fn cloud_problems(block: &Opaque, applied: &CloudProfile) -> Result<(), Vec<ScenarioError>> {
    let problems = applied.keyed_problems();
    if problems.is_empty() {
        return Ok(());
    }
    Err(problems
        .into_iter()
        .map(|p| {
            let path: Vec<&str> = p
                .keys
                .iter()
                .map(|k| k.split('.').collect::<Vec<_>>())
                .find(|path| block.has(path))
                .unwrap_or_default();
            block.error(&path, p.message)
        })
        .collect())
}

/// The scenario's `cloud:` override, if it has one.
pub fn cloud_override(s: &Scenario) -> Result<Option<ProfileOverride>, Vec<ScenarioError>> {
    s.cloud.as_ref().map(Opaque::read).transpose()
}
