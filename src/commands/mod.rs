//! The work behind each `vqlab` subcommand: its arguments (clap) and the
//! function that runs it. The binary (`src/main.rs`) only dispatches; the
//! library below this layer never calls into it.
pub mod args;
pub mod baseline;
pub mod bench;
pub mod calibrate;
pub mod check;
pub mod data;
pub mod data_args;
pub mod future;
pub mod gradcheck;
pub mod gradients;
pub mod gradquality;
pub mod output;
pub mod reproduce;
pub mod saved;
pub mod study;
pub mod train;
pub mod train_out;
