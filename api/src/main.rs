//! The `cdtg` binary: parses the command line and hands over to [`cdtg_api::cli`].

use clap::Parser;

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
