//! The metered LLM: an OpenAI-compatible chat-completions client (`client`) and the
//! per-organization monthly counters and cap it is held to (`usage`).

pub mod client;
pub mod usage;
