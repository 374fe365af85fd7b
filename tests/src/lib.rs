//! Cross-crate end-to-end tests live in `tests/tests/`; they drive an
//! in-process reference server with real clients. None exist yet: they come
//! with the server (issue #5) and the client SDK (issue #6).
