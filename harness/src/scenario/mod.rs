//! Scenarios: YAML files parsed in two stages (raw serde structs, then a validated model).
