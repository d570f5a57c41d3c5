//! # integration-tests
//!
//! Helpers shared by the workspace-level tests in `tests/`: where the running local stack
//! is (`cargo xtask stack up`) and how to reach its parts. The tests never start a stand-in:
//! a part that is not running is a test failure, or, for Docker outside CI, a loud skip.
