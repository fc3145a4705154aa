//! The `waitless` binary: the command line is the library's (`waitless::cli`), so the tests
//! and this program run the same code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    waitless::cli::run(waitless::cli::Cli::parse())
}
