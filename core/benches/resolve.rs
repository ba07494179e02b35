//! Resolution cost against the number of links: it must stay flat (within 1.5x from 10 to
//! 100 000 links), because lookup walks the path's depth, not the link table.
//!
//! `cargo bench -p bindfs-core --bench resolve`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use bindfs_core::table::Probe;
use bindfs_core::{AbsPath, FileKind, LinkFlags, LinkSpec, LinkTable, Result, Target, VPath};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// Everything exists and is a directory: the bench measures resolution, not storage.
struct AllDirs;

impl Probe for AllDirs {
    fn kind_in_view(&self, _: &LinkTable, _: &VPath) -> Result<Option<FileKind>> {
        Ok(Some(FileKind::Dir))
    }
    fn kind_on_host(&self, _: &AbsPath) -> Result<Option<FileKind>> {
        Ok(Some(FileKind::Dir))
    }
}

/// `n` links spread over 100 top directories, every tenth one merged with an exception.
fn table(n: usize) -> LinkTable {
    let mut t = LinkTable::new(bindfs_core::CasePolicy::Sensitive);
    for i in 0..n {
        let virt = VPath::parse(&format!("/dir{}/link{i}", i % 100)).unwrap();
        let merged = i % 10 == 0;
        let exceptions =
            if merged { vec![virt.join_all(VPath::parse("/keep").unwrap().names())] } else { vec![] };
        let spec = LinkSpec {
            virt,
            target: Target::host(&format!("/backing/b{i}")).unwrap(),
            flags: LinkFlags { merged, read_only: false },
            exceptions,
        };
        t.create(spec, &AllDirs).unwrap();
    }
    t
}

fn resolve(c: &mut Criterion) {
    let mut group = c.benchmark_group("resolve");
    for n in [10usize, 1_000, 100_000] {
        let t = table(n);
        // A path through a link (the 7th), six components deep, and one no link covers.
        let through = VPath::parse("/dir7/link7/a/b/c/file.txt").unwrap();
        let miss = VPath::parse("/elsewhere/x/y/z/w/file.txt").unwrap();
        let merged = VPath::parse("/dir0/link0/a/b/c/file.txt").unwrap();
        group.bench_with_input(BenchmarkId::new("through_link", n), &through, |b, p| {
            b.iter(|| black_box(t.resolve(black_box(p)).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("merged_link", n), &merged, |b, p| {
            b.iter(|| black_box(t.resolve(black_box(p)).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("no_link", n), &miss, |b, p| {
            b.iter(|| black_box(t.resolve(black_box(p)).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, resolve);
criterion_main!(benches);
