package sqlstore

import "time"

// LostRace exposes lostRace to the tests of package sqlstore_test.
var LostRace = lostRace

// SQLTime exposes the time form each dialect stores, for the benchmarks'
// bulk seeding.
func SQLTime(d Dialect, t time.Time) any { return d.sqlTime(t) }

// Wrap exposes wrap to the tests of package sqlstore_test.
var Wrap = wrap
