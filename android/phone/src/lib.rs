//! `cdtg-phone`: the Android companion's Rust library, loaded by Kotlin through UniFFI.
//!
//! It puts a Kotlin face on [`cdtg_core`] — the rules the server runs, unchanged — and adds what
//! only the phone needs: the offline [`outbox`] on SQLite. Keeping this in its own crate is what
//! lets the compiler enforce the split: `cdtg-core` has no I/O and knows nothing of UniFFI, and
//! the server, which depends on the core alone, never compiles SQLite bindings or UniFFI.
//!
//! - [`enums`]: the core's enums declared to UniFFI as remote types, so they cross to Kotlin
//!   as themselves, without a copy to convert;
//! - [`ffi`]: thin wrappers over the core's functions and the one Kotlin error type;
//! - [`outbox`]: field reports recorded offline and sent exactly once.

// The namespace stays `cdtg_core`, what it was when these bindings lived in the core crate: the
// generated Kotlin file keeps its name (`vn/cdtg/core/cdtg_core.kt`) and the app is unaffected.
uniffi::setup_scaffolding!("cdtg_core");

pub mod enums;
pub mod ffi;
pub mod outbox;
