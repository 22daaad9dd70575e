// Package benchmarks measures convo beside the libraries a Go developer
// would otherwise use for the seed's counter webhook, in a module of its
// own so that those libraries never become dependencies of convo. Its
// replace directive points at the working tree (../), so it measures the
// code as it is, not a release.
//
// The tests of this package hold the benchmarks (BenchmarkWebhook), the
// burst and retry measurements (TestBurstAndRetry), and the regression
// guard (TestGuard, run with CONVO_BENCH_GUARD=1); internal/systems holds
// the systems, convo's shared stores and scs's on SQLite, PostgreSQL,
// MySQL and Redis among them. cmd/load plays many phones against any
// webhook URL, cmd/serve serves one system for it, cmd/shared measures the
// shared stores with their database's CPU, and cmd/scale one store with a
// million conversations. See BENCHMARKS.md for the figures and how to
// reproduce them.
package benchmarks
