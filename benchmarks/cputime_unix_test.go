//go:build unix

package benchmarks

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used, user and system, in all
// its threads: the garbage collector's background work included, other
// processes' not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

const haveCPUTime = true
