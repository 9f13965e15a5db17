//! The work behind each `vqlab` subcommand, as library functions returning
//! serializable reports; the binary only parses arguments and prints.
pub mod baseline;
pub mod data_args;
