//! `cargo xtask`: the project's automation, in plain Rust (the rust-analyzer convention).

fn main() {
    println!("xtask: not implemented yet");
}
