//! Driving a browser for a run: a fresh supervised session per attempt, pointed at a
//! filtering proxy that enforces the target's egress rules, and the script that finds
//! elements by CSS, XPath, text or label across open shadow roots.

pub mod analysis;
pub mod egress;
pub mod session;
pub mod steps;

/// `finder.js`: arguments `[strategy, value]`, returns null or `[element, facts]`.
pub const FINDER_JS: &str = include_str!("finder.js");
