use clap::Parser;

use tfmirror::cli::{self, Cli};

// jemalloc rather than glibc's malloc: under hundreds of concurrent archive downloads glibc
// kept the freed 512 KiB read buffers in its per-thread arenas, and RSS rose 28% in a 60 s
// soak after warm-up (bench/README.md); jemalloc reuses and returns them.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

// A multi-threaded runtime: the download worker and blocking hashing share it with the
// HTTP server, which runs its own per-core worker threads either way.
#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let config = match cli.load_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: invalid configuration: {e}");
            std::process::exit(2);
        }
    };
    let logs = tfmirror::telemetry::init(&config.log);
    let result = cli::run(cli, config).await;
    // Whatever is still queued reaches standard error before the process ends (and before
    // the error below, so lines keep their order).
    drop(logs);
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
