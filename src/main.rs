//! `edgekit`: serve, invoke, package and deploy sites declared from the library's blocks.

fn main() -> std::process::ExitCode {
    edgekit::main(edge_functions::site::Registry::builtin())
}
