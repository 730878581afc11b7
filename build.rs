//! Release builds link the functions a start runs first, and together.
//!
//! `build/symbol-order.txt` (written by `benches/symbol_order.py`) names
//! them. Without it they lie spread over the whole text, and since the
//! kernel maps 64 KiB around each page fault, an idle broker kept about
//! 8 MiB of code resident for the 2 MB it ran (docs/performance.md).
//! Only the linker's layout changes: the code is the same.

use std::path::Path;

fn main() {
    let order = Path::new(env!("CARGO_MANIFEST_DIR")).join("build/symbol-order.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    println!("cargo:rerun-if-changed=build.rs");
    let release = std::env::var("PROFILE").is_ok_and(|profile| profile == "release");
    // lld reads this option; rustc links with lld on x86_64 Linux. Names the
    // build no longer has are skipped, without a warning per name.
    let lld = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux")
        && std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "x86_64");
    if release && lld && order.exists() {
        println!(
            "cargo:rustc-link-arg-bin=gregor=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bin=gregor=-Wl,--no-warn-symbol-ordering");
    }
}
