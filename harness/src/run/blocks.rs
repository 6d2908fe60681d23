//! Reading a scenario's opaque blocks with the types of the layers that own them: the virtual
//! module's overrides, the cloud profile override and each `broker_fault:`. The scenario layer
//! keeps them as YAML with positions; `athil check` and `athil run` call [`block_problems`] so
//! a typo in one is reported with file:line:column before anything runs.

use crate::broker::{Fault, ProfileOverride};
use crate::scenario::{Opaque, Scenario, ScenarioError};

use super::target::VirtualOverrides;

/// Every problem in `s`'s opaque blocks, in file order.
pub fn block_problems(s: &Scenario) -> Vec<ScenarioError> {
    let mut out = Vec::new();
    for (key, block) in s.opaque_blocks() {
        let read = match key {
            "virtual_module" => block.read::<VirtualOverrides>().map(drop),
            "cloud" => block.read::<ProfileOverride>().map(drop),
            "broker_fault" => block.read::<Fault>().map(drop),
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

/// The scenario's `cloud:` override, if it has one.
pub fn cloud_override(s: &Scenario) -> Result<Option<ProfileOverride>, Vec<ScenarioError>> {
    s.cloud.as_ref().map(Opaque::read).transpose()
}
