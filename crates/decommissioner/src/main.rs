//! The `decommissioner` command-line tool: a thin shell over the library.

fn main() {
    println!("decommissioner: not implemented yet");
}
