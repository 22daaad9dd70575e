// Package counter reads and writes the seed's counter webhook: the
// greeting "<Name> has messaged <To> <n> times" that every system in the
// benchmarks answers, and the count a reply carries.
package counter

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Greeting is the seed's reply text for the n-th message from name to to.
func Greeting(name, to string, n int) string {
	return name + " has messaged " + to + " " + strconv.Itoa(n) + " times"
}

// ErrNoCount is returned by Count for a reply that carries no count.
var ErrNoCount = errors.New(`counter: the reply holds no "<n> times"`)

// Count returns n from the last "<n> times" in a reply body (TwiML or
// plain text): the decimal digits immediately before " times". n is at
// least 1 and fits an int32; anything else is ErrNoCount.
func Count(body []byte) (int, error) {
	i := bytes.LastIndex(body, []byte(" times"))
	if i < 0 {
		return 0, ErrNoCount
	}
	j := i
	for j > 0 && body[j-1] >= '0' && body[j-1] <= '9' {
		j--
	}
	if j == i || i-j > 10 {
		return 0, ErrNoCount
	}
	n, err := strconv.ParseInt(string(body[j:i]), 10, 32)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%w (%q)", ErrNoCount, body[j:i])
	}
	return int(n), nil
}
