use clap::Parser as _;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = confab::cli::Cli::parse();
    let serve = matches!(&cli.command, confab::cli::Command::Serve(_));
    let json_logs =
        matches!(&cli.command, confab::cli::Command::Serve(c) if c.log_format == "json");
    confab::logging::init(json_logs);
    match confab::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // Said once: the server's failure goes to its log (which may be JSON for a
            // collector); a one-shot command's to stderr as a plain line.
            if serve {
                tracing::error!("{error:#}");
            } else {
                eprintln!("confab: {error:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
