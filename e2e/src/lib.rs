//! End-to-end tests live in `tests/`: they start the real `api-server` and `worker`
//! binaries (built by `cargo build --workspace`, which `scripts/test` runs first) against
//! PostgreSQL, Redis, an S3-compatible server and a real OIDC provider.
