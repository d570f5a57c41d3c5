//! The `silver-processor` binary: a thin shell over the library.

fn main() {
    println!("silver-processor: not implemented yet");
}
