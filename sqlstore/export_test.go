package sqlstore

import "time"

// SQLTime exposes the time form each dialect stores, for the benchmarks'
// bulk seeding.
func SQLTime(d Dialect, t time.Time) any { return d.sqlTime(t) }
