//! Form analysis: `analyzeForm` and `createWorkflowFromAnalysis`, `formAnalysis(id)` and
//! `formAnalyses(targetId)`.

pub mod mutation;
pub mod query;
pub mod types;
