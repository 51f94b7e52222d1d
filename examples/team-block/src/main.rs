//! `team-edge`: the edgekit tool (serve, invoke, package, blocks, ...) with this team's
//! blocks registered beside the library's.

use std::process::ExitCode;

use edge_functions::site::Registry;

fn main() -> ExitCode {
    edgekit::main(Registry::builtin().register::<team_block_example::NoindexHosts>())
}
