//! `alien-edge`: serve, invoke, package and deploy sites declared from the library's blocks.

fn main() -> std::process::ExitCode {
    alien_edge::main(edge_functions::site::Registry::builtin())
}
