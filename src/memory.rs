//! Giving memory the server freed back to the system.
//!
//! glibc's allocator returns freed memory to the system only from the top of its heap. After a
//! busy day (30,000 tickets: two copies of the queue, their index, the events) is closed, the
//! tickets are freed but the pages they sat on stay resident, below allocations that live on:
//! about 40 MiB on this machine. [`give_back`] asks glibc to return every whole free page
//! (`malloc_trim(0)`); the engine calls it after a day close and the start after the
//! background audit check, moments when nothing else allocates much. Elsewhere (musl, other
//! systems) it does nothing: those allocators give memory back themselves.
//!
//! This is the project's one `unsafe` block: an FFI call that takes no pointers and that glibc
//! serialises with every other allocator call.

/// Returns the allocator's whole free pages to the system; whether any were returned.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(
    unsafe_code,
    reason = "malloc_trim: FFI with no arguments to get wrong"
)]
pub fn give_back() -> bool {
    // SAFETY: malloc_trim takes a padding size, touches only glibc's own free lists, and locks
    // each arena while it walks it; it is safe to call from any thread at any time.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Does nothing where the allocator is not glibc's.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn give_back() -> bool {
    false
}
