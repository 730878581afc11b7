//! The process allocator, hardened against array lengths taken from the wire.
//!
//! kafka-protocol 0.18 decodes an array by reading its length and calling
//! `Vec::with_capacity(length)` before reading any element. A 12-byte
//! Produce request that claims `i32::MAX` topics therefore asks for hundreds
//! of gigabytes; the system allocator refuses, and Rust aborts the process.
//!
//! This allocator serves allocations of 1 GiB and more with an anonymous
//! `mmap(MAP_NORESERVE)` instead: address space is reserved, but no memory is
//! committed or accounted until a page is touched. The decoder then fails on
//! the first element it cannot read (a frame is at most
//! `socket.request.max.bytes`), the vector is dropped and the mapping
//! returned, and the request becomes an error instead of an abort. Legitimate
//! allocations that large behave as before: Linux commits anonymous pages
//! lazily anyway. (Under `vm.overcommit_memory=2` the kernel still refuses
//! such mappings; gregor then aborts as any Rust program would.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;

/// Allocations from this size on are lazily mapped.
const HUGE: usize = 1 << 30;
/// mmap returns page-aligned memory; larger alignments go to the system.
const PAGE: usize = 4096;

pub struct WireSafeAllocator;

fn is_huge(size: usize, align: usize) -> bool {
    size >= HUGE && align <= PAGE
}

// SAFETY: every pointer returned is either from `System` (and returned to
// it) or from `mmap` of at least `layout.size()` bytes (and unmapped with the
// same size); which one is decided by the layout alone, identically on
// allocation and deallocation.
unsafe impl GlobalAlloc for WireSafeAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !is_huge(layout.size(), layout.align()) {
            return System.alloc(layout);
        }
        let mapped = libc::mmap(
            ptr::null_mut(),
            layout.size(),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        );
        if mapped == libc::MAP_FAILED {
            ptr::null_mut()
        } else {
            mapped.cast()
        }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        if is_huge(layout.size(), layout.align()) {
            libc::munmap(pointer.cast(), layout.size());
        } else {
            System.dealloc(pointer, layout);
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_huge(layout.size(), layout.align()) {
            // Anonymous mappings are zero-filled.
            self.alloc(layout)
        } else {
            System.alloc_zeroed(layout)
        }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !is_huge(layout.size(), layout.align()) && !is_huge(new_size, layout.align()) {
            return System.realloc(pointer, layout, new_size);
        }
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let moved = self.alloc(new_layout);
        if !moved.is_null() {
            ptr::copy_nonoverlapping(pointer, moved, layout.size().min(new_size));
            self.dealloc(pointer, layout);
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use kafka_protocol::messages::{ApiKey, RequestKind};

    /// The named hostile case: a Produce body whose topic array claims
    /// i32::MAX entries in 12 bytes. Before this allocator, this aborted the
    /// test process.
    #[test]
    fn a_produce_claiming_i32_max_topics_is_a_decode_error() {
        let mut body = Vec::new();
        body.extend_from_slice(&(-1i16).to_be_bytes()); // null transactional id
        body.extend_from_slice(&1i16.to_be_bytes()); // acks
        body.extend_from_slice(&30_000i32.to_be_bytes()); // timeout
        body.extend_from_slice(&i32::MAX.to_be_bytes()); // topic count
        let mut bytes = Bytes::from(body);
        assert!(RequestKind::decode(ApiKey::Produce, &mut bytes, 7).is_err());
    }

    #[test]
    fn a_flexible_request_claiming_u32_max_entries_is_a_decode_error() {
        // Produce v9: compact nullable string (0 = null), acks, timeout, compact array.
        let mut body = vec![0u8];
        body.extend_from_slice(&1i16.to_be_bytes());
        body.extend_from_slice(&30_000i32.to_be_bytes());
        body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        let mut bytes = Bytes::from(body);
        assert!(RequestKind::decode(ApiKey::Produce, &mut bytes, 9).is_err());
    }
}
