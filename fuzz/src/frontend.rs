//! AFL++ target: one input file through everything loopc's commands do with
//! it (`loopc_harness::exercise`). A panic, an abort (stack overflow) or a
//! hang is a crash for AFL++ to keep and minimise.

use std::path::Path;

fn main() {
    let checker = loopc_check::Checker::new(loopc_check::Limits::default());
    afl::fuzz!(|data: &[u8]| {
        let mut reached = loopc_harness::Reached::default();
        // Both file kinds: the name decides whether the JSON front end runs.
        let path = if data.first() == Some(&b'{') { "input.json" } else { "input.yaml" };
        loopc_harness::exercise(&checker, Path::new(path), data, &mut reached);
    });
}
