// Package benchmarks measures convo beside the libraries a Go developer
// would otherwise use for the seed's counter webhook, in a module of its
// own so that those libraries never become dependencies of convo. Its
// replace directive points at the working tree (../), so it measures the
// code as it is, not a release.
//
// The tests of this package hold the systems, the benchmarks
// (BenchmarkWebhook), the burst and retry measurements (TestBurstAndRetry),
// and the regression guard (TestGuard, run with CONVO_BENCH_GUARD=1). The
// command in cmd/load plays many phones against any webhook URL. See
// BENCHMARKS.md for the figures and how to reproduce them.
package benchmarks
