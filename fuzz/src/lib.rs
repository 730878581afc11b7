//! What the fuzz targets share: reading structured values off the front of
//! the fuzzer's bytes, and a scratch folder for the targets that fuzz files.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The fuzzer's bytes, read from the front. Past the end every read gives
/// zero or empty, so that any input is a valid one.
pub struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Input(bytes)
    }

    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.0.split_at(n.min(self.0.len()));
        self.0 = tail;
        head
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let head = self.take(N);
        out[..head.len()].copy_from_slice(head);
        out
    }

    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.array())
    }

    pub fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.array())
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }

    pub fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.array())
    }

    pub fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.array())
    }

    /// A `u16`-length-prefixed slice.
    pub fn sized(&mut self) -> &'a [u8] {
        let length = usize::from(self.u16());
        self.take(length)
    }

    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.0.len())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An empty folder for this process' target, under `$TMPDIR` (benches/fuzz.sh
/// points it at /dev/shm, where the targets' fsyncs cost nothing, and removes
/// it afterwards).
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("gregor-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("the scratch folder can be created");
        dir
    });
    for entry in std::fs::read_dir(dir).expect("the scratch folder is readable") {
        let path = entry.expect("the scratch folder is readable").path();
        std::fs::remove_file(&path).expect("scratch files can be removed");
    }
    dir
}
