//! The parallel-run benchmark's short form: the same measuring code as `cargo bench --bench
//! parallel`, with four modules instead of 64 and without the shipped suite (run_parallel.rs
//! runs that), asserting only that the measurements work, never their speed.

#[allow(dead_code)]
#[path = "../benches/parallel_suite/mod.rs"]
mod parallel_suite;

use std::path::PathBuf;

#[test]
fn the_parallel_benchmark_measures_a_few_modules_in_one_process() {
    let mut settings =
        parallel_suite::Settings::benchmark(PathBuf::from(env!("CARGO_BIN_EXE_athil")));
    settings.modules = 4;
    settings.suite = false;
    let figures = parallel_suite::run(&settings, &|_| {}).expect("the measurements ran");
    assert_eq!(figures.many_modules.cases, 4);
    assert!(figures.many_modules.peak_rss_kib > 0, "wait4 gave an RSS");
    let table = figures.table(&settings);
    assert!(table.contains("4 modules / 1 module wall time"), "{table}");
}
