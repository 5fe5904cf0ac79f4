//! The `digestd` binary: parse arguments, run, map the outcome to an exit code.

fn main() {
    std::process::exit(digestd::cli::main_exit_code());
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
