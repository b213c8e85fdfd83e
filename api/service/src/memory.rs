//! The process's allocator, and handing freed heap back to the system after large work (an
//! import, an export).
//!
//! The server allocates and frees many small blocks per request (rows, values, the answer's
//! bytes); under load glibc's malloc and free were a quarter to a third of its CPU. jemalloc's
//! per-thread caches make that cheaper. Left to itself, though, an allocator keeps what a large
//! import or export freed, for reuse: after a 10,000-row import the server went on holding some
//! 50 MB it no longer used, which an export then stacked on. jemalloc can be told to return
//! every arena's unused pages at once (`arena.<all>.purge`); that walks the arenas under their
//! locks, so it runs once, shortly after the work that asked for it, on a blocking thread —
//! never per request. Between such purges jemalloc's decay returns pages that stayed unused for
//! some seconds, as the allocator goes on being used.
//!
//! The allocator is declared here, in the service library, so that every program built on it
//! (the server, its CLI, the test binaries) runs on the allocator the purge speaks to. It also
//! replaces `malloc` and `free` for the C code linked in (the bundled SQLite), whose page
//! caches and statements then share jemalloc's arenas and its purge.

#[cfg(all(target_os = "linux", not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static SCHEDULED: AtomicBool = AtomicBool::new(false);

/// Trims the heap a moment from now (once, however many ask meanwhile): time for the answer
/// that holds the work's last buffers to be sent and dropped.
pub fn trim_soon() {
    if SCHEDULED.swap(true, Ordering::AcqRel) {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        SCHEDULED.store(false, Ordering::Release);
        return;
    };
    runtime.spawn(async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        SCHEDULED.store(false, Ordering::Release);
        let _ = tokio::task::spawn_blocking(trim_now).await;
    });
}

/// Returns freed heap pages to the system now; true when the allocator accepted the purge.
pub fn trim_now() -> bool {
    #[cfg(all(target_os = "linux", not(target_env = "musl")))]
    {
        // "All arenas" is the arena index MALLCTL_ARENAS_ALL (4096). `arena.<i>.purge` takes and
        // returns nothing: jemalloc refuses the call (EPERM) unless every pointer is null, which
        // the typed writers of tikv-jemalloc-ctl never pass, hence the raw call.
        const PURGE_ALL_ARENAS: &[u8] = b"arena.4096.purge\0";
        // SAFETY: the name is NUL-terminated; no value goes in or comes out.
        let status = unsafe {
            tikv_jemalloc_sys::mallctl(
                PURGE_ALL_ARENAS.as_ptr().cast(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            )
        };
        status == 0
    }
    #[cfg(not(all(target_os = "linux", not(target_env = "musl"))))]
    {
        false
    }
}

/// Calls [`trim_soon`] when dropped: held by large work, whichever way it ends.
pub struct TrimWhenDone;

impl Drop for TrimWhenDone {
    fn drop(&mut self) {
        trim_soon();
    }
}

#[cfg(all(test, target_os = "linux", not(target_env = "musl")))]
mod tests {
    /// Bytes of heap the process holds from the system (jemalloc's `stats.resident`), fresh as
    /// of this call.
    fn resident_bytes() -> Option<usize> {
        tikv_jemalloc_ctl::epoch::advance().ok()?;
        tikv_jemalloc_ctl::stats::resident::read().ok()
    }

    #[test]
    fn freed_small_allocations_go_back_to_the_system() {
        // Many small blocks (well inside jemalloc's small size classes), then freed: pages the
        // allocator would otherwise keep until its decay got to them.
        let blocks: Vec<Vec<u8>> = (0..200_000).map(|i| vec![i as u8; 200]).collect();
        assert_eq!(blocks.len(), 200_000);
        let holding = resident_bytes().expect("jemalloc is the allocator");
        drop(blocks);
        assert!(super::trim_now(), "the purge was accepted");
        let after = resident_bytes().expect("jemalloc is the allocator");
        // 200,000 × 200 bytes is some 40 MB; nearly all of it goes back.
        assert!(
            holding.saturating_sub(after) > 30 << 20,
            "resident {holding} bytes before the purge, {after} after"
        );
    }
}
