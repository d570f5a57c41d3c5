//! The `ohlcv-validator` command-line tool: a thin shell over the library.

fn main() {
    println!("ohlcv-validator: not implemented yet");
}
