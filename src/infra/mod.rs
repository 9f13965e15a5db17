//! Infrastructure: atomic files, thread pools, the pinned numerical kernels,
//! the counting allocator and the ndarray ⇄ libtorch bridge. Names nothing
//! above it.
pub mod alloc;
pub mod io;
pub mod kernels;
pub mod provenance;
pub mod threads;
pub mod torch_bridge;
