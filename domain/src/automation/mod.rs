//! Browser automation: targets (where browsers may go, with sealed secrets), workflows
//! (a draft and immutable published versions of an input schema and steps), scenarios
//! (inputs and their expected outcome) and, in `runs`, their execution by the worker fleet.

pub mod analysis;
pub mod definition;
pub mod egress;
pub mod generation;
pub mod problems;
pub mod runs;
pub mod scenarios;
pub mod sealing;
pub mod targets;
pub mod values;
pub mod workflows;
