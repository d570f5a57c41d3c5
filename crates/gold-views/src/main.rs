//! The `gold-views` command-line tool: a thin shell over the library.

fn main() {
    println!("gold-views: not implemented yet");
}
