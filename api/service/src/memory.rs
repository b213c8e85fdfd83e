//! Handing freed heap back to the system after large work (an import, an export).
//!
//! glibc's allocator keeps what a request freed in the arena of the thread that freed it, for
//! reuse. After a 10,000-row import the server went on holding some 50 MB it no longer used,
//! which an export then stacked on. `malloc_trim(0)` returns those free pages (from every
//! arena, not only the top of the heap). It walks the arenas under their locks, so it runs once,
//! shortly after the work that asked for it, on a blocking thread — never per request.

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

/// Returns freed heap pages to the system now; true when some were returned.
pub fn trim_now() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only reorganises the allocator's own free lists.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
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

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    #[test]
    fn freed_small_allocations_go_back_to_the_system() {
        // Many small blocks (below the mmap threshold, so on the heap), then freed: pages the
        // allocator would otherwise keep.
        let blocks: Vec<Vec<u8>> = (0..200_000).map(|i| vec![i as u8; 200]).collect();
        assert_eq!(blocks.len(), 200_000);
        drop(blocks);
        assert!(super::trim_now(), "malloc_trim returned pages");
    }
}
