//! The `cdtg` binary: parses the command line and hands over to [`cdtg_api::cli`].

use clap::Parser;

/// A GraphQL answer is thousands of short-lived strings and maps; under read load glibc's
/// malloc and free were a third of the server's CPU (profiled with `perf`; see
/// `bench/README.md`). mimalloc's thread-local free lists make that a small fraction.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cdtg_api::config::Cli::parse();
    cdtg_api::telemetry::init(cli.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(cdtg_api::cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cdtg: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
