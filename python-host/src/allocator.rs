//! Rust's allocations in origin packages go to mimalloc (feature `mimalloc`): the typed model
//! allocates a few small strings per header a function sets, and mimalloc took about 0.3 µs off
//! the origin-response cost per event against glibc's malloc (benches/anchors/python-host.py).
//!
//! mimalloc is asked the way Rust's own `System` allocator asks malloc: a plain `mi_malloc` when
//! the alignment is one every block already has (a word: mimalloc's size classes are whole
//! words), its aligned entry points otherwise. The crate `mimalloc` always calls the aligned
//! ones, which take a slower path even for byte-aligned strings.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment of every block `mi_malloc` returns.
const WORD: usize = std::mem::size_of::<usize>();

pub struct MiMalloc;

// SAFETY: each method hands mimalloc a request it documents (sizes and power-of-two alignments
// from a valid `Layout`), and frees only pointers mimalloc returned; blocks from the plain and
// the aligned entry points are freed alike by `mi_free`.
unsafe impl GlobalAlloc for MiMalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe {
            if layout.align() <= WORD {
                mi::mi_malloc(layout.size()) as *mut u8
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe {
            if layout.align() <= WORD {
                mi::mi_zalloc(layout.size()) as *mut u8
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { mi::mi_free(ptr as *mut c_void) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe {
            if layout.align() <= WORD {
                mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
            } else {
                mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
            }
        }
    }
}
