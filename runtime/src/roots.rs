//! One thread's roots — everything of a VM thread that refers into the heap from outside it:
//! the value stack, the call frames' closures, the open-upvalue list and the temporary roots
//! of the loader and the allocator — and the collector's view of them (`RootSet`). The roots
//! all threads share (globals, intern and code tables) are in shared.rs, registered with the
//! heap once (`Shared::new`): every pause visits both.
//!
//! `ThreadRoots` is a separate field of the VM from the heap, so `heap.alloc_slow(n, roots)`
//! borrows the two disjointly.

use crate::shared::visit_value;
use crate::value::Value;
use gc::RootSet;
use std::ptr::NonNull;

/// Most nested calls before "Stack overflow." (clox allows 64).
pub const FRAMES_MAX: usize = 10_000;
/// Value stack slots: one full frame (256 slots) per call level. The memory is reserved zeroed
/// (zero is the number 0, not a reference) and touched only as deep as programs go.
pub const STACK_SLOTS: usize = FRAMES_MAX * 256;
/// Bytes of a value stack.
pub const STACK_BYTES: usize = STACK_SLOTS * std::mem::size_of::<Value>();

/// One active call. Holds its closure as a root and an instruction offset, never a pointer.
#[derive(Copy, Clone, Debug)]
pub struct Frame {
    /// The running closure (a root).
    pub closure: Value,
    /// Offset of the next instruction in the function's bytecode (valid when the frame is not
    /// the one the dispatch loop is running, or after the loop saved it).
    pub ip: u32,
    /// Stack index of slot 0 (the callee, then the arguments and locals).
    pub base: u32,
    /// Start of the function's bytecode (off-heap in the code table; lives as long as the
    /// closure this frame keeps alive).
    pub code: *const u8,
}

/// The value stack: one allocation made once, so raw pointers into it stay valid for the VM's
/// life. Only `[0, top)` holds live values; slots above may hold stale words and are never read
/// before being written (the loader's stack-height check guarantees it for bytecode).
pub struct Stack {
    base: NonNull<Value>,
    pub top: usize,
}

impl Stack {
    /// Maps the stack as fresh anonymous memory: its pages are zero and cost nothing until a
    /// deep call touches them (an allocator's zeroed block may be memset eagerly).
    pub fn new() -> Stack {
        // SAFETY: a new private anonymous mapping at an address the kernel picks; it overlaps
        // nothing of ours.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                STACK_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            let layout = std::alloc::Layout::array::<Value>(STACK_SLOTS).expect("stack layout");
            std::alloc::handle_alloc_error(layout);
        }
        let base = NonNull::new(p as *mut Value).expect("mmap returned null");
        Stack { base, top: 0 }
    }

    #[inline(always)]
    pub fn base_ptr(&self) -> *mut Value {
        self.base.as_ptr()
    }

    /// Value at index `i < STACK_SLOTS`.
    #[inline(always)]
    pub fn get(&self, i: usize) -> Value {
        assert!(i < STACK_SLOTS);
        // SAFETY: in bounds of our allocation (checked above); every slot is initialised
        // (fresh anonymous pages read as zero words: the number 0).
        unsafe { *self.base.as_ptr().add(i) }
    }

    #[inline(always)]
    pub fn set(&mut self, i: usize, v: Value) {
        assert!(i < STACK_SLOTS);
        // SAFETY: as for `get`.
        unsafe { *self.base.as_ptr().add(i) = v }
    }

    #[inline(always)]
    pub fn push(&mut self, v: Value) {
        let t = self.top;
        self.set(t, v);
        self.top = t + 1;
    }

    #[inline(always)]
    pub fn pop(&mut self) -> Value {
        self.top -= 1;
        self.get(self.top)
    }

    /// The value `distance` slots below the top.
    #[inline(always)]
    pub fn peek(&self, distance: usize) -> Value {
        self.get(self.top - 1 - distance)
    }
}

impl Default for Stack {
    fn default() -> Self {
        Stack::new()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: mapped in `new` with this length, unmapped once; no pointer into the stack
        // outlives the VM that owns it.
        unsafe { libc::munmap(self.base.as_ptr() as *mut libc::c_void, STACK_BYTES) };
    }
}

/// One thread's roots: its value stack and frames, its open upvalues (which point into its
/// stack) and the temporary roots of its loader, allocator and API calls.
pub struct ThreadRoots {
    pub stack: Stack,
    pub frames: Vec<Frame>,
    /// Head of the open upvalues (sorted by stack slot, highest first), or nil.
    pub open_upvalues: Value,
    /// Values kept alive across allocations by the loader, the allocator and the API.
    pub temps: Vec<Value>,
}

impl ThreadRoots {
    pub fn new() -> ThreadRoots {
        ThreadRoots {
            stack: Stack::new(),
            frames: Vec::with_capacity(FRAMES_MAX),
            open_upvalues: Value::NIL,
            temps: Vec::new(),
        }
    }
}

impl Default for ThreadRoots {
    fn default() -> Self {
        ThreadRoots::new()
    }
}

impl RootSet for ThreadRoots {
    fn visit_roots(&mut self, v: &mut dyn FnMut(&mut u64)) {
        let base = self.stack.base_ptr();
        for i in 0..self.stack.top {
            // SAFETY: i < top <= STACK_SLOTS, inside the stack allocation; no other reference
            // to the stack exists while the collector runs (the mutator is at a safepoint).
            visit_value(v, unsafe { &mut *base.add(i) });
        }
        for f in self.frames.iter_mut() {
            visit_value(v, &mut f.closure);
        }
        visit_value(v, &mut self.open_upvalues);
        for t in self.temps.iter_mut() {
            visit_value(v, t);
        }
    }
}
