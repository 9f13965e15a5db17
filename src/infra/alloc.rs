//! A counting global allocator: wraps the system allocator and counts Rust
//! heap allocations and bytes (current and peak). The `vqlab` binary installs
//! it, so `bench` can report the Rust heap's peak; tests install it to prove
//! that the manual training loop allocates nothing. libtorch and OpenBLAS
//! allocate through libc directly and are not seen here (bench measures them
//! through the process's peak RSS).
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The allocator. Install with `#[global_allocator] static A: CountingAllocator = CountingAllocator::new();`.
pub struct CountingAllocator {
    allocations: AtomicUsize,
    current: AtomicUsize,
    peak: AtomicUsize,
}

impl CountingAllocator {
    /// A fresh counter.
    pub const fn new() -> Self {
        CountingAllocator {
            allocations: AtomicUsize::new(0),
            current: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Allocations (including reallocations) so far.
    pub fn allocations(&self) -> usize {
        self.allocations.load(Ordering::SeqCst)
    }

    /// Bytes currently allocated.
    pub fn current_bytes(&self) -> usize {
        self.current.load(Ordering::SeqCst)
    }

    /// The most bytes allocated at once since the last [`reset_peak`](Self::reset_peak).
    pub fn peak_bytes(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Sets the peak to the current allocation.
    pub fn reset_peak(&self) {
        self.peak.store(self.current_bytes(), Ordering::SeqCst);
    }

    fn grow(&self, bytes: usize) {
        self.allocations.fetch_add(1, Ordering::Relaxed);
        let now = self.current.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }
}

impl Default for CountingAllocator {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters are only bookkeeping.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.grow(layout.size());
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.grow(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.current.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.current.fetch_sub(layout.size(), Ordering::Relaxed);
        self.grow(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

/// Peak resident set size of this process (VmHWM, bytes), Linux only.
pub fn peak_rss_bytes() -> Option<usize> {
    proc_status_kb("VmHWM:").map(|kb| kb * 1024)
}

/// Current resident set size (VmRSS, bytes), Linux only.
pub fn current_rss_bytes() -> Option<usize> {
    proc_status_kb("VmRSS:").map(|kb| kb * 1024)
}

/// Resets the kernel's peak-RSS mark to the current RSS (writes 5 to
/// /proc/self/clear_refs); false where that is not possible.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn proc_status_kb(key: &str) -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Memory the kernel says is available for new allocations (MemAvailable,
/// bytes), Linux only.
pub fn available_memory_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    line.split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|kb| kb * 1024)
}

/// Refuses work whose estimated allocation exceeds what the machine has
/// available (checked before anything is allocated), naming the estimate,
/// what it counts, and the machine's memory.
pub fn check_memory(needed: u64, what: &str) -> crate::Result<()> {
    let Some(available) = available_memory_bytes() else {
        return Ok(());
    };
    if needed > available {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        return Err(crate::VqError::TooLarge {
            what: what.to_string(),
            needed_gib: gib(needed),
            available_gib: gib(available),
        });
    }
    Ok(())
}
