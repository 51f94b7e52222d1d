//! `team-edge`: the edgekit tool (serve, invoke, package, blocks, ...) with this team's
//! blocks registered beside the library's.

use std::process::ExitCode;

fn main() -> ExitCode {
    edgekit::main(team_block_example::registry())
}
