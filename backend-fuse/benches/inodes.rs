//! What one rename costs in the FUSE inode table when the kernel knows 100 000 inodes: it must
//! follow the depth of the renamed path and what it moves, not the number of inodes known
//! (issue 12: rsync and untar rename often in large trees).
//!
//! `cargo bench -p bindfs-fuse --bench inodes`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[cfg(target_os = "linux")]
mod linux {
    use std::hint::black_box;
    use std::time::Duration;

    use bindfs_core::{Attr, FileKind, Timestamp, VPath};
    use bindfs_fuse::inodes::Inodes;
    use criterion::{BenchmarkId, Criterion};

    fn attr(kind: FileKind, ino: u64) -> Attr {
        let base = bindfs_core::report::synthetic_dir(Timestamp::default());
        Attr { kind, perm: 0o644, nlink: 1, dev: 7, ino, ..base }
    }

    fn p(s: &str) -> VPath {
        VPath::parse(s).unwrap()
    }

    /// `dirs` directories of 100 files each, under /tree.
    fn table(dirs: u64) -> Inodes {
        let t = Inodes::new();
        t.remember(&p("/tree"), &attr(FileKind::Dir, 1), false, true);
        for d in 0..dirs {
            t.remember(&p(&format!("/tree/d{d}")), &attr(FileKind::Dir, 2 + d), false, true);
            for f in 0..100 {
                let ino = 1_000_000 + d * 100 + f;
                t.remember(&p(&format!("/tree/d{d}/f{f}")), &attr(FileKind::File, ino), false, true);
            }
        }
        t
    }

    pub fn rename(c: &mut Criterion) {
        let mut group = c.benchmark_group("inodes");
        group.sample_size(10).measurement_time(Duration::from_secs(3));
        for dirs in [10u64, 1_000] {
            let t = table(dirs);
            let known = t.len();
            // A directory of 100 files moves away and back: two renames per iteration, so the
            // table is the same at every one.
            let (home, away) = (p("/tree/d5"), p("/tree/moved"));
            group.bench_function(BenchmarkId::new("rename_dir_of_100_twice", known), |b| {
                b.iter(|| {
                    t.renamed(black_box(&home), black_box(&away));
                    t.renamed(black_box(&away), black_box(&home));
                })
            });
            // A file renamed within its directory and back (untar's temp-name-then-rename).
            let (file, tmp) = (p("/tree/d7/f3"), p("/tree/d7/.f3.tmp"));
            group.bench_function(BenchmarkId::new("rename_file_twice", known), |b| {
                b.iter(|| {
                    t.renamed(black_box(&file), black_box(&tmp));
                    t.renamed(black_box(&tmp), black_box(&file));
                })
            });
            let node = t.remember(&file, &attr(FileKind::File, 1_000_000 + 7 * 100 + 3), false, true);
            group.bench_function(BenchmarkId::new("path", known), |b| b.iter(|| black_box(t.path(node))));
            // A lookup of a known file, the kernel's reference given back: the hottest call.
            let found = attr(FileKind::File, 1_000_000 + 7 * 100 + 3);
            group.bench_function(BenchmarkId::new("lookup_known_file", known), |b| {
                b.iter(|| {
                    let ino = t.remember(black_box(&file), &found, false, true);
                    t.forget(ino, 1);
                })
            });
        }
        group.finish();
    }
}

#[cfg(target_os = "linux")]
criterion::criterion_group!(benches, linux::rename);
#[cfg(target_os = "linux")]
criterion::criterion_main!(benches);

#[cfg(not(target_os = "linux"))]
fn main() {}
