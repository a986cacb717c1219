//! The `neqlab` binary: parses the command line and dispatches (see [`cli`]).

mod app;
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
