//go:build !unix

package benchmarks

import "time"

func cpuTime() time.Duration { return 0 }

const haveCPUTime = false
